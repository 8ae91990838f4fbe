"""The caseworkers' reviews coming back (確認結果, reviews.md): returned lists read, checked and kept."""
