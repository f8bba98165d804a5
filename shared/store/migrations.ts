/**
 * Versioned schema. Migration N brings a database from user_version N-1 to N; each runs in a
 * transaction, so a failed upgrade leaves the old schema and its rows as they were.
 * Append new migrations; never edit one that has shipped. docs/schema.md documents the result.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: nodes and the five metric tables. Metric tables are clustered by (node_id, time, series)
  // (WITHOUT ROWID): "one node, a time range" is one range scan, no second index is kept, and a
  // row costs little more than its values. Names that repeat every round (sensor types, mount
  // devices) live once in small dimension tables.
  `
  CREATE TABLE nodes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    port INTEGER,
    user TEXT,
    connection TEXT NOT NULL,
    groups_json TEXT NOT NULL DEFAULT '[]',
    vars_json TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'unknown',
    added_unix_seconds INTEGER NOT NULL,
    updated_unix_seconds INTEGER NOT NULL,
    removed_unix_seconds INTEGER,
    last_seen_unix_seconds INTEGER,
    last_error TEXT,
    last_error_unix_seconds INTEGER,
    latitude REAL,
    longitude REAL
  );
  CREATE TABLE node_groups (
    node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    grp TEXT NOT NULL,
    PRIMARY KEY (grp, node_id)
  ) WITHOUT ROWID;

  CREATE TABLE temperature_sensors (
    node_id INTEGER NOT NULL,
    sensor TEXT NOT NULL,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (node_id, sensor)
  ) WITHOUT ROWID;
  CREATE TABLE temperature (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    sensor TEXT NOT NULL,
    celsius REAL NOT NULL,
    PRIMARY KEY (node_id, time, sensor)
  ) WITHOUT ROWID;

  CREATE TABLE cpu (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    cpu TEXT NOT NULL,
    usage_percent REAL NOT NULL,
    user_percent REAL NOT NULL,
    nice_percent REAL NOT NULL,
    system_percent REAL NOT NULL,
    iowait_percent REAL NOT NULL,
    irq_percent REAL NOT NULL,
    softirq_percent REAL NOT NULL,
    steal_percent REAL NOT NULL,
    idle_percent REAL NOT NULL,
    interval_seconds REAL NOT NULL,
    PRIMARY KEY (node_id, time, cpu)
  ) WITHOUT ROWID;

  CREATE TABLE load (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    load1 REAL NOT NULL,
    load5 REAL NOT NULL,
    load15 REAL NOT NULL,
    PRIMARY KEY (node_id, time)
  ) WITHOUT ROWID;

  CREATE TABLE memory (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    mem_total_bytes INTEGER NOT NULL,
    mem_free_bytes INTEGER NOT NULL,
    mem_available_bytes INTEGER,
    buffers_bytes INTEGER,
    cached_bytes INTEGER,
    swap_total_bytes INTEGER,
    swap_free_bytes INTEGER,
    used_percent REAL NOT NULL,
    PRIMARY KEY (node_id, time)
  ) WITHOUT ROWID;

  CREATE TABLE mounts (
    node_id INTEGER NOT NULL,
    mount_point TEXT NOT NULL,
    device TEXT NOT NULL,
    fs_type TEXT NOT NULL,
    PRIMARY KEY (node_id, mount_point)
  ) WITHOUT ROWID;
  CREATE TABLE storage (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    mount_point TEXT NOT NULL,
    total_bytes INTEGER NOT NULL,
    used_bytes INTEGER NOT NULL,
    available_bytes INTEGER NOT NULL,
    used_percent REAL NOT NULL,
    PRIMARY KEY (node_id, time, mount_point)
  ) WITHOUT ROWID;

  CREATE TABLE network (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    iface TEXT NOT NULL,
    rx_bytes INTEGER NOT NULL,
    rx_packets INTEGER NOT NULL,
    rx_errors INTEGER NOT NULL,
    rx_drops INTEGER NOT NULL,
    tx_bytes INTEGER NOT NULL,
    tx_packets INTEGER NOT NULL,
    tx_errors INTEGER NOT NULL,
    tx_drops INTEGER NOT NULL,
    rx_bytes_per_second REAL,
    tx_bytes_per_second REAL,
    rx_packets_per_second REAL,
    tx_packets_per_second REAL,
    rx_errors_per_second REAL,
    tx_errors_per_second REAL,
    rx_drops_per_second REAL,
    tx_drops_per_second REAL,
    PRIMARY KEY (node_id, time, iface)
  ) WITHOUT ROWID;

  -- The last raw counters per node and kind, so that a fresh process (a cold Lambda, a
  -- restarted hub, two one-shot runs) computes the same rates as a long-running hub.
  CREATE TABLE counter_state (
    node_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    sample_json TEXT NOT NULL,
    PRIMARY KEY (node_id, kind)
  ) WITHOUT ROWID;

  -- One row per node, kind and round, like node_exporter's scrape_collector_success.
  CREATE TABLE collector_runs (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    kind TEXT NOT NULL,
    success INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    rows INTEGER NOT NULL,
    error TEXT,
    PRIMARY KEY (node_id, time, kind)
  ) WITHOUT ROWID;
  CREATE INDEX collector_runs_time ON collector_runs (time);
  `,
  // 2: rollups for long ranges. One row per node, series, label and bucket (1 minute, 1 hour, 6 hours),
  // maintained incrementally by the rollup handler up to rollup_state's watermark.
  `
  CREATE TABLE rollup_1m (
    node_id INTEGER NOT NULL,
    series TEXT NOT NULL,
    label TEXT NOT NULL,
    time INTEGER NOT NULL,
    min REAL NOT NULL,
    avg REAL NOT NULL,
    max REAL NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (node_id, series, time, label)
  ) WITHOUT ROWID;
  CREATE TABLE rollup_1h (
    node_id INTEGER NOT NULL,
    series TEXT NOT NULL,
    label TEXT NOT NULL,
    time INTEGER NOT NULL,
    min REAL NOT NULL,
    avg REAL NOT NULL,
    max REAL NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (node_id, series, time, label)
  ) WITHOUT ROWID;
  CREATE TABLE rollup_6h (
    node_id INTEGER NOT NULL,
    series TEXT NOT NULL,
    label TEXT NOT NULL,
    time INTEGER NOT NULL,
    min REAL NOT NULL,
    avg REAL NOT NULL,
    max REAL NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (node_id, series, time, label)
  ) WITHOUT ROWID;
  -- Per level: every bucket that starts before done_until_unix_seconds is final.
  CREATE TABLE rollup_state (
    level TEXT PRIMARY KEY,
    done_until_unix_seconds INTEGER NOT NULL
  );
  `,
  // 3: geolocation. Every address looked up once, by its normalized text; nodes remember their
  // address and where their location came from. geocoder_servers spaces requests to a geocoding
  // server across processes (Nominatim: one per second) and backs off from one that is down.
  `
  CREATE TABLE geocode_cache (
    address TEXT PRIMARY KEY,
    query TEXT,
    latitude REAL,
    longitude REAL,
    display_name TEXT,
    precision TEXT,
    provider TEXT,
    server TEXT,
    looked_up_unix_seconds INTEGER,
    status TEXT NOT NULL,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_unix_seconds INTEGER,
    next_retry_unix_seconds INTEGER
  );
  CREATE TABLE geocoder_servers (
    server TEXT PRIMARY KEY,
    next_request_unix_ms INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    retry_after_unix_seconds INTEGER,
    last_error TEXT
  );
  ALTER TABLE nodes ADD COLUMN address TEXT;
  ALTER TABLE nodes ADD COLUMN location_source TEXT;
  ALTER TABLE nodes ADD COLUMN location_precision TEXT;
  ALTER TABLE nodes ADD COLUMN location_unix_seconds INTEGER;
  ALTER TABLE nodes ADD COLUMN location_error TEXT;
  `,
  // 4: the model catalog. One row per registry, repository and tag ever seen (removed when the
  // tag disappears); its platforms as rows; people's descriptions apart from the image's own
  // label, so a sync never overwrites them; per registry, when it was last synced and why not.
  `
  CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT,
    media_type TEXT,
    platforms TEXT,
    size_bytes INTEGER,
    created_unix_seconds INTEGER,
    title TEXT,
    description TEXT,
    version TEXT,
    task TEXT,
    framework TEXT,
    input TEXT,
    output TEXT,
    labels_json TEXT NOT NULL DEFAULT '{}',
    first_seen_unix_seconds INTEGER NOT NULL,
    last_seen_unix_seconds INTEGER NOT NULL,
    updated_unix_seconds INTEGER NOT NULL,
    removed_unix_seconds INTEGER,
    error TEXT,
    error_unix_seconds INTEGER,
    UNIQUE (registry, repository, tag)
  );
  CREATE TABLE model_platforms (
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    os TEXT NOT NULL,
    architecture TEXT NOT NULL,
    variant TEXT,
    digest TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    PRIMARY KEY (model_id, platform)
  ) WITHOUT ROWID;
  CREATE TABLE model_descriptions (
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    description TEXT NOT NULL,
    updated_unix_seconds INTEGER NOT NULL,
    PRIMARY KEY (registry, repository, tag)
  ) WITHOUT ROWID;
  CREATE TABLE model_registries (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    last_attempt_unix_seconds INTEGER,
    last_sync_unix_seconds INTEGER,
    last_error TEXT,
    last_error_unix_seconds INTEGER
  );
  `,
  // 5: anomalies: episodes found by the online detector (shared/detect/) and by the fixed rules
  // (unreachable, disk full, too hot), one row per episode; detector_state keeps each series'
  // detector state and its cursor, so a restarted hub goes on where it stopped.
  `
  CREATE TABLE anomalies (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL,
    series TEXT NOT NULL,
    label TEXT NOT NULL,
    detector TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_unix_seconds INTEGER NOT NULL,
    end_unix_seconds INTEGER,
    last_unix_seconds INTEGER NOT NULL,
    peak_score REAL NOT NULL,
    peak_value REAL,
    peak_unix_seconds INTEGER NOT NULL,
    samples INTEGER NOT NULL DEFAULT 1,
    message TEXT NOT NULL
  );
  CREATE INDEX anomalies_node_start ON anomalies (node_id, start_unix_seconds);
  CREATE INDEX anomalies_start ON anomalies (start_unix_seconds);
  CREATE INDEX anomalies_open ON anomalies (node_id, series, label, detector, kind) WHERE end_unix_seconds IS NULL;
  CREATE TABLE detector_state (
    node_id INTEGER NOT NULL,
    series TEXT NOT NULL,
    label TEXT NOT NULL,
    detector TEXT NOT NULL,
    cursor_unix_seconds INTEGER NOT NULL,
    state_json TEXT NOT NULL,
    PRIMARY KEY (node_id, series, label)
  ) WITHOUT ROWID;
  `,
  // 6: deployments of model images to nodes (shared/deploy/): one row per deployment, one per
  // node of it with its current state, and every step of every node as an event, in order.
  `
  CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    image TEXT NOT NULL,
    digest TEXT,
    target_json TEXT NOT NULL,
    options_json TEXT NOT NULL,
    status TEXT NOT NULL,
    created_unix_seconds INTEGER NOT NULL,
    started_unix_seconds INTEGER,
    finished_unix_seconds INTEGER,
    error TEXT
  );
  CREATE INDEX deployments_created ON deployments (created_unix_seconds);
  CREATE TABLE deployment_nodes (
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    node TEXT NOT NULL,
    state TEXT NOT NULL,
    progress_percent REAL,
    container_id TEXT,
    container_name TEXT,
    previous_container_id TEXT,
    error TEXT,
    queued_unix_seconds INTEGER NOT NULL,
    started_unix_seconds INTEGER,
    updated_unix_seconds INTEGER NOT NULL,
    finished_unix_seconds INTEGER,
    PRIMARY KEY (deployment_id, node)
  ) WITHOUT ROWID;
  CREATE TABLE deployment_events (
    id INTEGER PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    node TEXT NOT NULL,
    time INTEGER NOT NULL,
    time_unix_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    progress_percent REAL,
    message TEXT
  );
  CREATE INDEX deployment_events_deployment ON deployment_events (deployment_id, id);
  CREATE INDEX deployment_events_time ON deployment_events (time);
  `,
  // 7: inferences of deployed models (shared/collect/inference.ts, docs/inference-protocol.md).
  // One row per inference. Read as "one node (or deployment on a node), a time range": the two
  // indexes lead with (node_id, time) and (deployment_id, node_id, time_unix_ms); `time` (whole
  // seconds) is what rollups and the anomaly detector seek by, as in every raw table.
  // line_key (64 bits of a SHA-1 of where the line came from) is unique: a line read twice, or a
  // batch pushed twice, is stored once whatever the cursors say. inference_cursors holds, per
  // deployment, node and container, how far its log has been read: the engine's timestamp of
  // the last line taken (nanoseconds) and how many lines carried exactly that timestamp.
  `
  CREATE TABLE inference (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL,
    deployment_id TEXT,
    model TEXT NOT NULL,
    tag TEXT NOT NULL,
    time INTEGER NOT NULL,
    time_unix_ms REAL NOT NULL,
    latency_ms REAL,
    preprocess_ms REAL,
    infer_ms REAL,
    postprocess_ms REAL,
    batch INTEGER NOT NULL DEFAULT 1,
    input_id TEXT,
    label TEXT,
    score REAL,
    expected TEXT,
    error TEXT,
    source TEXT NOT NULL,
    line_key INTEGER NOT NULL
  );
  CREATE INDEX inference_node_time ON inference (node_id, time);
  CREATE INDEX inference_deployment_time ON inference (deployment_id, node_id, time_unix_ms);
  CREATE UNIQUE INDEX inference_line ON inference (line_key);
  CREATE TABLE inference_cursors (
    deployment_id TEXT NOT NULL,
    node_id INTEGER NOT NULL,
    container_id TEXT NOT NULL,
    log_time_unix_ns INTEGER NOT NULL,
    lines_at_time INTEGER NOT NULL,
    lines_read INTEGER NOT NULL DEFAULT 0,
    inferences INTEGER NOT NULL DEFAULT 0,
    ignored_lines INTEGER NOT NULL DEFAULT 0,
    invalid_lines INTEGER NOT NULL DEFAULT 0,
    last_invalid TEXT,
    updated_unix_seconds INTEGER NOT NULL,
    PRIMARY KEY (deployment_id, node_id, container_id)
  ) WITHOUT ROWID;
  `,
  // 8: rounds. collector_runs was keyed by (node_id, time, kind) with `time` the second the row
  // was written, so two rounds in one second replaced each other's rows. Each round now gets an
  // id in `rounds` (written in the round's own transaction, so a round is there whole or not at
  // all), and collector_runs is keyed by (node_id, time, round_id, kind): still one range scan
  // per node and time range. Old rows get one round per distinct second.
  `
  CREATE TABLE rounds (
    id INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    started_unix_ms INTEGER NOT NULL,
    written_unix_ms INTEGER NOT NULL,
    nodes INTEGER NOT NULL,
    kinds TEXT NOT NULL
  );
  CREATE INDEX rounds_time ON rounds (time);
  INSERT INTO rounds (time, started_unix_ms, written_unix_ms, nodes, kinds)
    SELECT time, time * 1000, time * 1000, COUNT(DISTINCT node_id), group_concat(DISTINCT kind) FROM collector_runs GROUP BY time ORDER BY time;
  CREATE TABLE collector_runs_8 (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    round_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    success INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    rows INTEGER NOT NULL,
    error TEXT,
    PRIMARY KEY (node_id, time, round_id, kind)
  ) WITHOUT ROWID;
  INSERT INTO collector_runs_8 (node_id, time, round_id, kind, success, duration_ms, rows, error)
    SELECT c.node_id, c.time, r.id, c.kind, c.success, c.duration_ms, c.rows, c.error FROM collector_runs c JOIN rounds r ON r.time = c.time;
  DROP TABLE collector_runs;
  ALTER TABLE collector_runs_8 RENAME TO collector_runs;
  CREATE INDEX collector_runs_time ON collector_runs (time);
  CREATE INDEX collector_runs_round ON collector_runs (round_id);
  `,
  // 9 (issue 14): deployments that survive a real lab. deployment_nodes.update_order: how the
  // node replaced the previous container (stop-first | start-first). deployments.lease_*: the
  // process running a deployment renews its lease; one whose lease expired while `running` is
  // `interrupted`. deployment_claims: one deployment at a time per (node, model), taken by a
  // conditional upsert (the row is free, expired, or already ours).
  `
  ALTER TABLE deployment_nodes ADD COLUMN update_order TEXT;
  ALTER TABLE deployments ADD COLUMN lease_owner TEXT;
  ALTER TABLE deployments ADD COLUMN lease_expires_unix_ms INTEGER;
  CREATE INDEX deployments_status ON deployments (status);
  CREATE TABLE deployment_claims (
    node TEXT NOT NULL,
    repository TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    lease_owner TEXT NOT NULL,
    lease_expires_unix_ms INTEGER NOT NULL,
    PRIMARY KEY (node, repository)
  ) WITHOUT ROWID;
  `,
  // 10: the Prometheus remote-write queue (shared/prometheus/remoteWrite.ts). Each collection
  // round queues its samples in the round's own transaction, as snappy-compressed WriteRequests
  // of at most prometheus.maxSamplesPerSend samples (one row = one request, sent as it is, so a
  // request resent after a crash is byte for byte the one sent before). Each endpoint keeps how
  // far it got (acked_id); a row every configured endpoint has passed is deleted.
  `
  -- AUTOINCREMENT: ids never come back once the queue has drained, or an endpoint's acked_id
  -- would cover requests it never saw.
  CREATE TABLE remote_write_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_unix_ms INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    series INTEGER NOT NULL,
    payload BLOB NOT NULL
  );
  CREATE TABLE remote_write_endpoints (
    endpoint TEXT PRIMARY KEY,
    acked_id INTEGER NOT NULL,
    sent_samples INTEGER NOT NULL DEFAULT 0,
    sent_requests INTEGER NOT NULL DEFAULT 0,
    dropped_samples INTEGER NOT NULL DEFAULT 0,
    failed_requests INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_at_unix_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_error_unix_ms INTEGER,
    last_success_unix_ms INTEGER,
    lease_owner TEXT,
    lease_until_unix_ms INTEGER NOT NULL DEFAULT 0
  );
  `,
  // 11 (issue 17): an SSM node's agent as DescribeInstanceInformation last reported it
  // (AgentVersion, PlatformName/PlatformVersion, PingStatus, LastPingDateTime); NULL for SSH and
  // local nodes, and for an SSM node not asked yet.
  `
  ALTER TABLE nodes ADD COLUMN ssm_agent_version TEXT;
  ALTER TABLE nodes ADD COLUMN ssm_platform_name TEXT;
  ALTER TABLE nodes ADD COLUMN ssm_platform_version TEXT;
  ALTER TABLE nodes ADD COLUMN ssm_ping_status TEXT;
  ALTER TABLE nodes ADD COLUMN ssm_last_ping_unix_seconds INTEGER;
  `,
  // 12 (issue 18): what node_exporter has and a lab needs. diskio: /proc/diskstats per whole
  // disk, raw counters and the rates since the previous round. inodes: `df -Pi` per real mount
  // (device and fs type in `mounts`, as for storage). pressure: PSI per resource (cpu, memory,
  // io). network gains the link state; memory a Jetson's NvMapMemUsed. nvidia_gpu: nvidia-smi
  // per GPU, keyed by its UUID (the index can change across reboots).
  `
  CREATE TABLE diskio (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    device TEXT NOT NULL,
    reads_completed INTEGER NOT NULL,
    read_bytes INTEGER NOT NULL,
    read_time_seconds REAL NOT NULL,
    writes_completed INTEGER NOT NULL,
    written_bytes INTEGER NOT NULL,
    write_time_seconds REAL NOT NULL,
    io_time_seconds REAL NOT NULL,
    read_bytes_per_second REAL,
    written_bytes_per_second REAL,
    reads_per_second REAL,
    writes_per_second REAL,
    utilization_percent REAL,
    PRIMARY KEY (node_id, time, device)
  ) WITHOUT ROWID;
  CREATE TABLE inodes (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    mount_point TEXT NOT NULL,
    files INTEGER NOT NULL,
    files_free INTEGER NOT NULL,
    used_percent REAL NOT NULL,
    PRIMARY KEY (node_id, time, mount_point)
  ) WITHOUT ROWID;
  CREATE TABLE pressure (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    resource TEXT NOT NULL,
    some_avg10 REAL NOT NULL,
    some_avg60 REAL NOT NULL,
    some_avg300 REAL NOT NULL,
    some_total_seconds REAL NOT NULL,
    some_percent REAL,
    full_avg10 REAL,
    full_avg60 REAL,
    full_avg300 REAL,
    full_total_seconds REAL,
    full_percent REAL,
    PRIMARY KEY (node_id, time, resource)
  ) WITHOUT ROWID;
  ALTER TABLE network ADD COLUMN oper_state TEXT;
  ALTER TABLE network ADD COLUMN carrier INTEGER;
  ALTER TABLE network ADD COLUMN speed_bytes_per_second REAL;
  ALTER TABLE memory ADD COLUMN nvmap_used_bytes INTEGER;
  CREATE TABLE nvidia_gpu (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    uuid TEXT NOT NULL,
    gpu_index INTEGER NOT NULL,
    name TEXT NOT NULL,
    utilization_gpu_percent REAL,
    utilization_memory_percent REAL,
    memory_used_bytes INTEGER,
    memory_total_bytes INTEGER,
    temperature_celsius REAL,
    power_draw_watts REAL,
    power_limit_watts REAL,
    sm_clock_mhz REAL,
    mem_clock_mhz REAL,
    throttle_reasons INTEGER,
    PRIMARY KEY (node_id, time, uuid)
  ) WITHOUT ROWID;
  `,
  // 13 (issue 20): many writers. leases: one holder at a time per name (a collection shard
  // `shard:k/n`, a singleton job), taken by a conditional upsert (free, expired, or already the
  // holder's) and renewed by its holder; one that dies stops renewing and loses it at expiry.
  // job_runs: a singleton job claims each of its periods once across all hubs (the primary key
  // decides), so rollup, retention, detection run once per period whatever the number of hubs.
  // rounds.hub / rounds.shards: which hub wrote a round and for which shards (NULL: one hub, all nodes).
  `
  ALTER TABLE rounds ADD COLUMN hub TEXT;
  ALTER TABLE rounds ADD COLUMN shards TEXT;
  CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_unix_ms INTEGER NOT NULL,
    acquired_unix_ms INTEGER NOT NULL
  );
  CREATE TABLE job_runs (
    job TEXT NOT NULL,
    period_unix_seconds INTEGER NOT NULL,
    owner TEXT NOT NULL,
    started_unix_ms INTEGER NOT NULL,
    finished_unix_ms INTEGER,
    PRIMARY KEY (job, period_unix_seconds)
  );
  `,
  // 14 (issue 18): the edge-AI half of the node: the Tegra GPU (one row per GPU device, with the
  // node's EMC clock and nvpmodel mode), power rails (INA3221 and RAPL domains) and the node's
  // total power, per-CPU cpufreq and thermal throttle counters, and the Raspberry Pi's
  // get_throttled word. Same shape as the first metric tables: clustered by (node_id, time, series).
  `
  CREATE TABLE tegra_gpu (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    device TEXT NOT NULL,
    load_percent REAL,
    cur_freq_hertz REAL,
    min_freq_hertz REAL,
    max_freq_hertz REAL,
    governor TEXT,
    emc_freq_hertz REAL,
    power_mode TEXT,
    power_mode_id INTEGER,
    PRIMARY KEY (node_id, time, device)
  ) WITHOUT ROWID;
  CREATE TABLE power_rails (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    rail TEXT NOT NULL,
    source TEXT NOT NULL,
    sensor TEXT NOT NULL,
    volts REAL,
    amperes REAL,
    watts REAL,
    joules_total REAL,
    PRIMARY KEY (node_id, time, rail)
  ) WITHOUT ROWID;
  CREATE TABLE power (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    watts REAL NOT NULL,
    total_of TEXT NOT NULL,
    PRIMARY KEY (node_id, time)
  ) WITHOUT ROWID;
  CREATE TABLE cpu_frequency (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    cpu TEXT NOT NULL,
    cur_hertz REAL,
    min_hertz REAL,
    max_hertz REAL,
    PRIMARY KEY (node_id, time, cpu)
  ) WITHOUT ROWID;
  CREATE TABLE cpu_throttle (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    cpu TEXT NOT NULL,
    package TEXT,
    core TEXT,
    core_throttles INTEGER,
    package_throttles INTEGER,
    core_throttles_new INTEGER,
    PRIMARY KEY (node_id, time, cpu)
  ) WITHOUT ROWID;
  CREATE TABLE rpi_throttled (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (node_id, time)
  ) WITHOUT ROWID;
  `,
  // 15 (issue 19): remote write with several requests in flight and a backlog merged per series.
  // queue.format: 1 = a snappy WriteRequest sent as it is (rows queued before this migration),
  // 2 = a round's chunk as columns (shared/prometheus/backlog.ts), merged with the rows after it
  // into requests at send time; queue.round: the id of its round's first row (a round holds a
  // series once). endpoints.batch_json: the batch being sent (its rows, its split, each
  // request's state), so a restart resends exactly the requests that were not answered.
  `
  ALTER TABLE remote_write_queue ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE remote_write_queue ADD COLUMN round INTEGER;
  ALTER TABLE remote_write_endpoints ADD COLUMN batch_json TEXT;
  `,
  // 16: nothing on SQLite. On PostgreSQL (pgDialect.ts PG_OVERRIDES) the inference table, the
  // biggest time-series table (a busy model writes a row per inference), becomes partitioned by
  // day like the others, its rows kept, so inference retention drops whole days.
  `
  SELECT 16;
  `,
  // 17: nothing on SQLite. On PostgreSQL (pgDialect.ts PG_OVERRIDES) migration 14's tables
  // (tegra_gpu, power_rails, power, cpu_frequency, cpu_throttle, rpi_throttled) become partitioned
  // by day like the other readings, their rows kept, so retention drops whole days of them too.
  `
  SELECT 17;
  `,
  // 18 (issue 19): each series' labels once. A queue row (format 3) holds series ids, not the
  // labels' bytes, which were most of a row and of the hub's time per sample (compressing them
  // into the row, uncompressing and comparing them to merge). labels_sha1 finds a series by its
  // labels (a unique key of 20 bytes, whatever the labels' length); ids are never reused, and a
  // series row is kept (a few hundred bytes a series): a hub's cached id is never left dangling.
  `
  CREATE TABLE remote_write_series (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    labels_sha1 BLOB NOT NULL UNIQUE,
    labels BLOB NOT NULL
  );
  `,
  // 19: nothing on SQLite. On PostgreSQL (pgDialect.ts PG_OVERRIDES) every partition's BRIN index
  // on time summarizes its new ranges as they fill (autosummarize), not only when a vacuum comes.
  `
  SELECT 19;
  `,
];
