-- SPEC 2: resolution tiers by picture area.
--   240p: area <= 76,800   480p: 76,800 < area <= 307,200   720p: above

-- SPEC 2.1 boundaries. Hand-computed areas:
--   320x240 = 76,800 (240p, the edge)      321x240 = 77,040 (480p)
--   640x480 = 307,200 (480p, the edge)     641x480 = 307,680 (720p)
--   720x360 = 259,200 (480p, as SPEC says) 960x540 = 518,400 (720p)
--   1x1 = 1 (240p)                         240x320 = 76,800 (240p: area, not width)
--   1280x720 = 921,600 (720p)              65536x65536 = 2^32 (720p, no overflow)
SELECT w, h, w::bigint * h AS area, classbill.tier(w, h)
FROM (VALUES (320, 240), (321, 240), (640, 480), (641, 480), (720, 360),
             (960, 540), (1, 1), (240, 320), (1280, 720), (65536, 65536)) AS r(w, h)
ORDER BY area, w;

-- SPEC 2.1: NULL gives NULL.
SELECT classbill.tier(NULL, 240) IS NULL AS null_width,
       classbill.tier(320, NULL) IS NULL AS null_height;

-- SPEC 9: the enum orders 240p < 480p < 720p.
SELECT enum_range(NULL::classbill.tier),
       classbill.tier(320, 240) < classbill.tier(640, 480) AS lt1,
       classbill.tier(640, 480) < classbill.tier(1280, 720) AS lt2;

-- SPEC 2.1 / 8: width or height <= 0 is an error naming the resolution.
SELECT classbill.tier(0, 240);
SELECT classbill.tier(320, -1);
SELECT classbill.tier(-640, -480);
