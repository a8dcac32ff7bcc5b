"""File and image uploads (issue 15): sniffing, storage, thumbnails, records."""
