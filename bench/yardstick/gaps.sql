-- The yardstick: what an analyst would write instead of onus. It reads
-- the exports of `onus bench --generate-only` with DuckDB's own readers,
-- normalises the identity keys as onus's identity package does, joins the
-- records as onus's correlation does for this organisation, and computes
-- the gaps of the bench controls (examples/acme/controls) as a table
-- gaps(control, entity), with entity ids spelled as onus spells them
-- (kind:key:value, the strongest key). The Go program replaces $DIR and
-- $NOW before running it.

SET TimeZone = 'UTC';

-- Identity keys (identity/identity.go). Values that are no identity at
-- all (placeholders, junk MACs, factory host names) become NULL.
-- Each macro is one expression (no subquery), so that it costs what a
-- built-in function costs on millions of rows; helpers take the value
-- already cleaned.
CREATE MACRO serial_chk(v) AS CASE WHEN v = '' OR v IN ('0', '00000000', '0000000000', '000000000000', '123456789',
    '0123456789', '1234567890', 'DEFAULTSTRING', 'TOBEFILLEDBYO.E.M.', 'TOBEFILLEDBYOEM', 'SYSTEMSERIALNUMBER',
    'NOTSPECIFIED', 'NOTAPPLICABLE', 'NOTAVAILABLE', 'NONE', 'NULL', 'N/A', 'NA', 'UNKNOWN', 'INVALID',
    'CHASSISSERIALNUMBER', 'SERIALNUMBER', 'SERIALNUMBERVALUE', 'OEM', 'VMWARE-', 'PARALLELSVIRTUALPLATFORM',
    'XXXXXXXXXX', 'XXXXXXXXXXXX', 'CHANGEME', 'EMPTY') OR ltrim(v, '0') = '' OR ltrim(v, 'F') = '' THEN NULL ELSE v END;
CREATE MACRO norm_serial(s) AS serial_chk(replace(replace(upper(trim(s)), ' ', ''), chr(9), ''));

-- h is the MAC's 12 hex digits; the check is on them, so that the
-- cleaning (inlined wherever h appears) runs as few times as it can.
CREATE MACRO mac_chk(h) AS CASE WHEN NOT regexp_full_match(h, '[0-9a-f][02468ace][0-9a-f]{10}') -- multicast, all ff
    OR h IN ('000000000000', 'acde48001122', '020000000000', '00059a3c7a00', '005056c00001', '005056c00008',
             '0a0027000000', '02004c4f4f50', '00ffffffffff', '0242ac110002') THEN NULL
    ELSE regexp_replace(h, '^(..)(..)(..)(..)(..)(..)$', '\1:\2:\3:\4:\5:\6') END;
CREATE MACRO norm_mac(s) AS mac_chk(regexp_replace(lower(s), '[:\-. ]', '', 'g'));

CREATE MACRO host_factory(v) AS v IN ('macbook', 'macbook-pro', 'macbook-air', 'imac', 'imac-pro', 'mac-mini', 'macmini',
    'mac-studio', 'mac-pro', 'mac', 'iphone', 'ipad', 'android', 'localhost', 'ubuntu', 'debian', 'fedora', 'centos',
    'kali', 'raspberrypi', 'user-pc', 'admin-pc', 'workstation');
CREATE MACRO host_v(a) AS replace(replace(replace(replace(split_part(a, '.', 1), '''', ''), '’', ''), ' ', '-'), '_', '-');
CREATE MACRO host_chk(a) AS CASE WHEN host_v(a) IN ('', 'unknown', 'none', 'null', 'n/a')
    OR regexp_full_match(a, '[0-9.]+|[0-9a-f:]*:[0-9a-f:]*')
    OR host_factory(host_v(a)) OR host_factory(regexp_replace(host_v(a), '-[0-9]+$', '')) THEN NULL ELSE host_v(a) END;
CREATE MACRO norm_host(s) AS host_chk(rtrim(lower(trim(s)), '.'));

-- identity.email_aliases of the bench configuration: acme.io is acme.com.
CREATE MACRO email_chk(e) AS CASE WHEN NOT regexp_full_match(e, '[^ \t,;]+@[^@ \t,;]+') THEN NULL
    ELSE regexp_replace(e, '@acme\.io$', '@acme.com') END;
CREATE MACRO norm_email(s) AS email_chk(regexp_replace(lower(trim(s)), '^mailto:', ''));

CREATE MACRO empid_chk(v) AS CASE WHEN v = '' THEN NULL WHEN regexp_full_match(v, '[0-9]+') THEN nullif(ltrim(v, '0'), '') ELSE upper(v) END;
CREATE MACRO norm_empid(s) AS empid_chk(trim(s));

CREATE MACRO uuid_chk(h) AS CASE WHEN NOT regexp_full_match(h, '[0-9a-f]{32}') OR ltrim(h, '0') = '' OR ltrim(h, 'f') = '' THEN NULL
    ELSE substr(h,1,8)||'-'||substr(h,9,4)||'-'||substr(h,13,4)||'-'||substr(h,17,4)||'-'||substr(h,21,12) END;
CREATE MACRO norm_uuid(s) AS uuid_chk(regexp_replace(lower(s), '[\-{} ]', '', 'g'));

-- A version as a list of numbers, compared element by element.
CREATE MACRO version_of(s) AS list_transform(string_split(s, '.'), x -> TRY_CAST(x AS BIGINT));

-- Sources -----------------------------------------------------------------

-- The exports that hold their records in one member of one object
-- ({"results": [...]}) are read from $SPLIT, where the Go program copied
-- each such array to a file of its own (split.go): DuckDB reads a
-- top-level array of records in parallel and fast, the same array inside
-- an object as one huge value, slowly.

CREATE TABLE hr AS
SELECT norm_empid("Employee ID") AS emp, norm_email("Work Email") AS email, "Employment Status" AS status,
       TRY_CAST("Hire Date" AS DATE)::TIMESTAMPTZ AS hired, TRY_CAST(nullif("Termination Date", '') AS DATE)::TIMESTAMPTZ AS terminated
FROM read_csv('$DIR/exports/hr/people.csv', header = true, all_varchar = true);

CREATE TABLE jamf AS
SELECT norm_serial(r.hardware.serialNumber) AS serial, norm_uuid(r.udid) AS uuid,
       [norm_mac(r.hardware.macAddress), norm_mac(r.hardware.altMacAddress)] AS macs,
       norm_host(r.general.name) AS host, r.general.lastContactTime::TIMESTAMPTZ AS last_contact,
       r.operatingSystem.fileVault2Status = 'ALL_ENCRYPTED' AS encrypted,
       norm_email(r.userAndLocation.email) AS owner_email
FROM read_json('$SPLIT/jamf/computers-inventory.json', format = 'array',
  columns = {udid: 'VARCHAR', general: 'STRUCT(name VARCHAR, lastContactTime VARCHAR)',
    hardware: 'STRUCT(serialNumber VARCHAR, macAddress VARCHAR, altMacAddress VARCHAR)',
    userAndLocation: 'STRUCT(email VARCHAR)', operatingSystem: 'STRUCT(fileVault2Status VARCHAR)'}) r;

CREATE TABLE intune AS
SELECT norm_serial(r.serialNumber) AS serial, NULL::VARCHAR AS uuid,
       [norm_mac(r.wiFiMacAddress), norm_mac(r.ethernetMacAddress)] AS macs,
       norm_host(r.deviceName) AS host, r.lastSyncDateTime::TIMESTAMPTZ AS last_contact,
       r.isEncrypted AS encrypted, norm_email(r.userPrincipalName) AS owner_email
FROM read_json('$SPLIT/intune/managedDevices.json', format = 'array',
  columns = {serialNumber: 'VARCHAR', wiFiMacAddress: 'VARCHAR', ethernetMacAddress: 'VARCHAR', deviceName: 'VARCHAR',
    lastSyncDateTime: 'VARCHAR', isEncrypted: 'BOOLEAN', userPrincipalName: 'VARCHAR'}) r;

CREATE TABLE edr AS
SELECT row_number() OVER () AS n, norm_serial(r.serial_number) AS serial, norm_mac(r.mac_address) AS mac,
       norm_host(r.hostname) AS host, r.last_seen::TIMESTAMPTZ AS last_seen
FROM read_json('$SPLIT/crowdstrike/devices.json', format = 'array',
  columns = {serial_number: 'VARCHAR', mac_address: 'VARCHAR', hostname: 'VARCHAR', last_seen: 'VARCHAR'}) r;

CREATE TABLE okta AS
SELECT id, status, norm_email(profile.email) AS email, norm_empid(profile.employeeNumber) AS emp
FROM read_json('$DIR/exports/okta/users.json', format = 'array', maximum_object_size = 4000000000,
  columns = {id: 'VARCHAR', status: 'VARCHAR', profile: 'STRUCT(email VARCHAR, employeeNumber VARCHAR)'});

CREATE TABLE factors AS
SELECT userId AS id, factors
FROM read_json('$DIR/exports/okta/factors.ndjson', format = 'newline_delimited',
  columns = {userId: 'VARCHAR', factors: 'STRUCT(factorType VARCHAR, status VARCHAR)[]'});

CREATE TABLE candidates AS
SELECT r.id AS id, norm_empid(r.custom_id) AS emp
FROM read_json('$SPLIT/checkr/candidates.json', format = 'array', columns = {id: 'VARCHAR', custom_id: 'VARCHAR'}) r;

CREATE TABLE reports AS
SELECT r.candidate_id AS candidate, r.status AS status, r.result AS result
FROM read_json('$SPLIT/checkr/reports.json', format = 'array',
  columns = {candidate_id: 'VARCHAR', status: 'VARCHAR', result: 'VARCHAR'}) r;

CREATE TABLE catalog AS
SELECT bundle_id, lower(trim(regexp_replace(windows_name, '\s+', ' ', 'g'))) AS name, latest_version
FROM read_csv('$DIR/exports/catalog/latest-versions.csv', header = true, all_varchar = true);

-- osquery's results log: each host's last snapshot, then the differential
-- rows logged after it (removed, then added).
CREATE TABLE osq AS
SELECT row_number() OVER () AS line, hostIdentifier AS host, unixTime AS t, decorations.host_uuid AS host_uuid, action,
       snapshot, "columns" AS cols
FROM read_json('$DIR/exports/osquery/osqueryd.results.log', format = 'newline_delimited', maximum_object_size = 1000000000,
  columns = {name: 'VARCHAR', hostIdentifier: 'VARCHAR', unixTime: 'BIGINT', decorations: 'STRUCT(host_uuid VARCHAR)',
    action: 'VARCHAR', snapshot: 'STRUCT(name VARCHAR, version VARCHAR, identifier VARCHAR, path VARCHAR)[]',
    "columns": 'STRUCT(name VARCHAR, version VARCHAR, identifier VARCHAR, path VARCHAR)'})
WHERE name = 'pack_acme_software_inventory';

-- Each host's last snapshot.
CREATE TABLE hosts AS
SELECT host_uuid, any_value(host) AS host, max(line) FILTER (WHERE action = 'snapshot') AS snap_line FROM osq GROUP BY host_uuid;

CREATE VIEW software AS
WITH snap AS (
  SELECT host_uuid, c.path AS path, c.name AS name, c.version AS version, c.identifier AS identifier
  FROM (SELECT o.host_uuid, unnest(o.snapshot) AS c FROM osq o JOIN hosts h ON o.line = h.snap_line)
), diff AS (
  SELECT o.host_uuid, o.action, o.cols.path AS path, o.cols.name AS name, o.cols.version AS version, o.cols.identifier AS identifier
  FROM osq o JOIN hosts h USING (host_uuid)
  WHERE o.action IN ('added', 'removed') AND o.line > coalesce(h.snap_line, 0)
), rows AS (
  SELECT s.* FROM snap s
  ANTI JOIN (SELECT * FROM diff WHERE action = 'removed') r
    ON r.host_uuid = s.host_uuid AND r.path = s.path AND r.name = s.name AND r.version = s.version
  UNION ALL
  SELECT host_uuid, path, name, version, identifier FROM diff WHERE action = 'added'
)
-- Names are compared as identity's name type does: lower case, runs of
-- white space as one space (the regular expression only where needed).
SELECT host_uuid, path, nullif(trim(identifier), '') AS bundle, version,
       lower(trim(CASE WHEN contains(name, '  ') OR regexp_matches(name, '[\t\n\r]') THEN regexp_replace(name, '\s+', ' ', 'g') ELSE name END)) AS name
FROM rows;

-- Correlation -------------------------------------------------------------

-- Laptops: one per MDM record, by serial number.
CREATE TABLE device AS
SELECT 'device:serial:' || serial AS id, * FROM (SELECT 'jamf' AS mdm, * FROM jamf UNION ALL SELECT 'intune', * FROM intune)
WHERE serial IS NOT NULL;

-- An EDR record joins the laptop with its serial number; without a
-- serial, the one laptop with its MAC address, else the one with its host
-- name. A MAC or name that several laptops share joins none.
CREATE TABLE edr_device AS
WITH by_serial AS (
  SELECT e.n, d.id FROM edr e JOIN device d ON e.serial = d.serial
), device_mac AS (
  SELECT DISTINCT id, mac FROM (SELECT id, unnest(macs) AS mac FROM device) WHERE mac IS NOT NULL
), by_mac AS (
  SELECT e.n, min(d.id) AS id, count(*) AS c FROM edr e JOIN device_mac d ON d.mac = e.mac
  WHERE e.serial IS NULL AND e.mac IS NOT NULL GROUP BY e.n
), by_host AS (
  SELECT e.n, min(d.id) AS id, count(*) AS c FROM edr e JOIN device d ON d.host = e.host
  WHERE e.serial IS NULL AND e.host IS NOT NULL AND e.n NOT IN (SELECT n FROM by_mac WHERE c = 1) GROUP BY e.n
)
SELECT n, id FROM by_serial
UNION ALL SELECT n, id FROM by_mac WHERE c = 1
UNION ALL SELECT n, id FROM by_host WHERE c = 1;

-- People: one per HR record, by employee id; Checkr candidates join by
-- employee id, their reports by candidate id.
CREATE TABLE person AS SELECT 'person:employee_id:' || emp AS id, * FROM hr WHERE emp IS NOT NULL;

-- Okta accounts link to their person by e-mail, else by employee id.
-- (Each join an equality, so that both are hash joins.)
CREATE TABLE account AS
WITH by_email AS (
  SELECT o.id AS okta_id, p.id FROM okta o JOIN person p ON p.email = o.email
), by_emp AS (
  SELECT o.id AS okta_id, p.id FROM okta o JOIN person p ON p.emp = o.emp
  WHERE o.id NOT IN (SELECT okta_id FROM by_email)
)
SELECT 'account:okta_id:' || o.id AS id, o.id AS okta_id, o.status, coalesce(pe.id, pn.id) AS person
FROM okta o
LEFT JOIN by_email pe ON pe.okta_id = o.id
LEFT JOIN by_emp pn ON pn.okta_id = o.id;

-- Installed software links to its laptop by hardware UUID, else by host
-- name (a name several laptops share links none), and to its catalog
-- entry by bundle id, else name. Hosts are linked once, not per row.
CREATE TABLE host_device AS
SELECT h.host_uuid, coalesce(du.id, dh.id) AS device FROM hosts h
LEFT JOIN device du ON du.uuid = norm_uuid(h.host_uuid)
LEFT JOIN (SELECT host, min(id) AS id FROM device WHERE host IS NOT NULL GROUP BY host HAVING count(*) = 1) dh
  ON dh.host = norm_host(h.host);

CREATE VIEW sw AS
SELECT s.host_uuid, s.path, s.version, hd.device, coalesce(cb.latest_version, cn.latest_version) AS latest
FROM software s
JOIN host_device hd USING (host_uuid)
LEFT JOIN catalog cb ON cb.bundle_id = s.bundle
LEFT JOIN catalog cn ON cn.name = s.name;

-- The bench controls ------------------------------------------------------

CREATE TABLE gaps AS
-- edr-agent-missing: a managed laptop seen in the last 30 days with no EDR record.
SELECT 'edr-agent-missing' AS control, d.id AS entity FROM device d
WHERE d.last_contact > TIMESTAMPTZ '$NOW' - INTERVAL 720 HOUR AND d.id NOT IN (SELECT id FROM edr_device)
UNION ALL
-- edr-agent-stale: a laptop seen in the last 3 days whose agent was not.
SELECT 'edr-agent-stale', d.id FROM device d JOIN edr_device x ON x.id = d.id JOIN edr e ON e.n = x.n
WHERE d.last_contact > TIMESTAMPTZ '$NOW' - INTERVAL 72 HOUR
GROUP BY d.id HAVING NOT (max(e.last_seen) > TIMESTAMPTZ '$NOW' - INTERVAL 72 HOUR)
UNION ALL
-- disk-encryption
SELECT 'disk-encryption', id FROM device WHERE NOT coalesce(encrypted, false)
UNION ALL
-- mfa-strong-factor: an active account without an active strong factor.
SELECT 'mfa-strong-factor', a.id FROM account a LEFT JOIN factors f ON f.id = a.okta_id
WHERE a.status = 'ACTIVE' AND NOT coalesce(len(list_filter(f.factors, x -> x.status = 'ACTIVE'
  AND x.factorType IN ('push', 'token:software:totp', 'token:hardware', 'webauthn', 'u2f', 'signed_nonce'))) > 0, false)
UNION ALL
-- background-check-complete: hired over 14 days ago, still here, no clear report.
SELECT 'background-check-complete', p.id FROM person p
WHERE p.status <> 'Terminated' AND p.hired < TIMESTAMPTZ '$NOW' - INTERVAL 336 HOUR
  AND NOT EXISTS (SELECT 1 FROM candidates c JOIN reports r ON r.candidate = c.id
                  WHERE c.emp = p.emp AND r.status = 'complete' AND r.result = 'clear')
UNION ALL
-- terminated-account-active
SELECT 'terminated-account-active', a.id FROM account a JOIN person p ON p.id = a.person
WHERE p.status = 'Terminated' AND a.status = 'ACTIVE'
UNION ALL
-- departed-device-checking-in: a leaver's laptop seen 48 hours after they left.
SELECT 'departed-device-checking-in', d.id FROM device d JOIN person p ON p.email = d.owner_email
WHERE p.status = 'Terminated' AND p.terminated IS NOT NULL AND NOT (d.last_contact < p.terminated + INTERVAL 48 HOUR)
UNION ALL
-- app-outdated: a catalog app on a known laptop, older than the catalog's version.
SELECT 'app-outdated', 'software:osquery:' || host_uuid || '/' || path FROM sw
WHERE device IS NOT NULL AND latest IS NOT NULL AND version_of(version) < version_of(latest);
