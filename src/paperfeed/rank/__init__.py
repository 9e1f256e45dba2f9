"""Ranking: trending (votes with time decay); recommendations come later."""
