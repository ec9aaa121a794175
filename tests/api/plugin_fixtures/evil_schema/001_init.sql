-- evil: its own tables and view (all allowed); the attacks are in evil.c.
CREATE TABLE evil_t (x TEXT);
INSERT INTO evil_t (x) VALUES ('mine');
CREATE VIEW evil_v AS SELECT x FROM evil_t;
CREATE TABLE evil_log (x TEXT);
