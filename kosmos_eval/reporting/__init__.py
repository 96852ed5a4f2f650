"""Reading finished runs back: leaderboards, the paper's reference numbers, comparisons, re-scoring, reports."""
