"""The workgroup post office: SMTP in, durable queue, Maildir delivery, POP3 pickup."""
