"""The analysts' side (分析主体): the pseudonymised marts, the rule lab and the research extract (匿名加工)."""
