-- Fencing checked where the group-commit statement updates each swarm's row (it locks the row and
-- reads its latest version), instead of a separate locking query per statement: this fails the
-- statement when an append's lease is no longer the swarm's.
CREATE OR REPLACE FUNCTION cfn_fence(held boolean, swarm uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT held THEN
    RAISE EXCEPTION 'the lease of swarm % is no longer this writer''s', swarm USING ERRCODE = 'CF409';
  END IF;
  RETURN true;
END
$$;
-- cfn_assert_leases (0003) stays: replicas of the previous version call it until a rolling upgrade
-- has replaced them all.
