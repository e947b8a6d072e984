-- The receivers' words are gone for good: nothing to put back.
SELECT 1;
