"""`paperfeed sync`: bring the store up to date from arXiv and Hugging Face, then the indexes."""
