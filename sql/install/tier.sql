
-- ---------------------------------------------------------------------
-- Resolution tiers (SPEC 2)
-- ---------------------------------------------------------------------

CREATE TYPE classbill.tier AS ENUM ('240p', '480p', '720p');
COMMENT ON TYPE classbill.tier IS
  'Resolution tier by picture area: 240p up to 320x240, 480p up to 640x480, 720p above (SPEC 2.1)';

CREATE FUNCTION classbill.tier(width integer, height integer)
RETURNS classbill.tier
AS 'MODULE_PATHNAME', 'classbill_tier'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.tier(integer, integer) IS
  'Tier of a width x height resolution; both must be positive (SPEC 2.1)';
