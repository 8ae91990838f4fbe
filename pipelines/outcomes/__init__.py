"""効果検証: did the support help? The monthly outcomes in the analysts' store judged by a matched
difference in differences (../shared/spec/outcomes.md)."""
