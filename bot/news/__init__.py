"""News: a safe HTTP fetcher, the feed poller, article extraction and Telegram refs found in HTML."""
