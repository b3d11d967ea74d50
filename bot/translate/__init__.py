"""Language detection, translators and the durable translation queue (see docs/translation.md)."""
