-- Per-user escalation reads the strongest input-review action of each interaction.
ALTER TABLE interactions ADD COLUMN input_action TEXT;
