-- Error answers used to be logged with the start of the receiver's body ("HTTP 503: ..."),
-- readable back through the delivery log by anyone with API access. Keep only the status, as
-- the hub writes it now.
UPDATE webhook_attempts
SET error = 'HTTP ' || status_code ||
    CASE WHEN status_code BETWEEN 300 AND 399
         THEN ' (redirects are not followed: give the final URL)'
         ELSE '' END
WHERE status_code IS NOT NULL AND error IS NOT NULL;
