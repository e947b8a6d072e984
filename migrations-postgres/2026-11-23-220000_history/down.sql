DROP TABLE output_sessions;
DROP TABLE events;
DROP TABLE scenes;
DROP TABLE instances;
