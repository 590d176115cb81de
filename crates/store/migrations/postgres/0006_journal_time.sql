-- The inspection export and the dashboard select journal rows by time.
CREATE INDEX journal_created_at ON journal(created_at);
