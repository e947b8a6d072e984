DROP TABLE audit_entries;
DROP TABLE api_tokens;
