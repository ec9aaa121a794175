-- who sent each dispatch of a meeting: the organising side that a check-in's live event reaches
ALTER TABLE meetings_dispatches ADD COLUMN sent_by INTEGER NOT NULL DEFAULT 0;
