-- PostgreSQL twin of migrations/2026-11-30-040000_webhook_error_answers (see the comment
-- there): keep only the status of error answers.
UPDATE webhook_attempts
SET error = 'HTTP ' || status_code::text ||
    CASE WHEN status_code BETWEEN 300 AND 399
         THEN ' (redirects are not followed: give the final URL)'
         ELSE '' END
WHERE status_code IS NOT NULL AND error IS NOT NULL;
