"""Channel sources: Telethon (a user account) and the public web preview (t.me/s), and the Watcher."""
