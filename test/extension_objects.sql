-- test/extension_objects.sql: every object of the classbill extension in
-- this database, one line each: what it is and a digest of its
-- definition, comment and privileges.  An upgraded extension must print
-- exactly what a fresh install of the same version prints
-- (test/t/upgrade.sh).
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'classbill'),
members AS (
  SELECT d.classid, d.objid FROM pg_depend AS d, ext
  WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
described AS (
  SELECT pg_describe_object(m.classid, m.objid, 0) AS what,
         CASE m.classid
           WHEN 'pg_proc'::regclass THEN
             (SELECT CASE WHEN p.prokind = 'a'
                          THEN (SELECT concat_ws(' ', a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn,
                                                 a.aggdeserialfn, a.aggtranstype::regtype, a.aggtransspace,
                                                 a.agginitval, p.proparallel)
                                FROM pg_aggregate AS a WHERE a.aggfnoid = p.oid)
                          ELSE pg_get_functiondef(p.oid) END || ' owner=' || p.proowner::regrole || ' acl=' || coalesce(p.proacl::text, 'default')
              FROM pg_proc AS p WHERE p.oid = m.objid)
           WHEN 'pg_class'::regclass THEN
             (SELECT c.relkind::text || ' ' || c.relpersistence::text || ' rls=' || c.relrowsecurity::text
                     || ' options=' || coalesce(c.reloptions::text, '') || ' owner=' || c.relowner::regrole::text
                     || ' acl=' || coalesce(c.relacl::text, 'default') || ' '
                     || coalesce(pg_get_viewdef(c.oid) || '', '')
                     || coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                                    || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                                    || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
                                                    || coalesce(' acl=' || a.attacl::text, '')
                                                    || ' stat=' || a.attstattarget::text
                                                    || coalesce(' comment=' || col_description(a.attrelid, a.attnum), ''),
                                                    ', ' ORDER BY a.attnum)
                                  FROM pg_attribute AS a
                                  LEFT JOIN pg_attrdef AS ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
                     || coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), '; ' ORDER BY pg_get_indexdef(i.indexrelid))
                                  FROM pg_index AS i WHERE i.indrelid = c.oid), '')
                     || coalesce((SELECT string_agg(co.conname || ' ' || pg_get_constraintdef(co.oid), '; ' ORDER BY co.conname)
                                  FROM pg_constraint AS co WHERE co.conrelid = c.oid), '')
                     || coalesce((SELECT string_agg(pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text, '; ' ORDER BY t.tgname)
                                  FROM pg_trigger AS t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), '')
                     || coalesce((SELECT string_agg(concat_ws(' ', p.polname, p.polcmd::text, p.polpermissive::text,
                                                             p.polroles::regrole[]::text, pg_get_expr(p.polqual, p.polrelid),
                                                             pg_get_expr(p.polwithcheck, p.polrelid)), '; ' ORDER BY p.polname)
                                  FROM pg_policy AS p WHERE p.polrelid = c.oid), '')
              FROM pg_class AS c WHERE c.oid = m.objid)
           WHEN 'pg_type'::regclass THEN
             (SELECT t.typtype::text || ' ' || coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                                  FROM pg_enum AS e WHERE e.enumtypid = t.oid), '')
                     || ' ' || concat_ws(' ', t.typinput, t.typoutput, t.typreceive, t.typsend, t.typlen,
                                         t.typalign, t.typstorage)
              FROM pg_type AS t WHERE t.oid = m.objid)
           WHEN 'pg_namespace'::regclass THEN
             (SELECT coalesce(n.nspacl::text, 'default') FROM pg_namespace AS n WHERE n.oid = m.objid)
           ELSE ''
         END || ' comment=' || coalesce(obj_description(m.objid, (SELECT relname FROM pg_class WHERE oid = m.classid)), '') AS def
  FROM members AS m)
SELECT what || ' ' || md5(def) FROM described ORDER BY what;
