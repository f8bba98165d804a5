/**
 * Versioned schema. Migration N brings a database from user_version N-1 to N; each runs in a
 * transaction, so a failed upgrade leaves the old schema and its rows as they were.
 * Append new migrations; never edit one that has shipped. docs/schema.md documents the result.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: nodes and the five metric tables.
  `
  CREATE TABLE nodes (
    name TEXT PRIMARY KEY,
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
    node TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE,
    grp TEXT NOT NULL,
    PRIMARY KEY (node, grp)
  ) WITHOUT ROWID;
  CREATE INDEX node_groups_grp ON node_groups (grp);

  CREATE TABLE temperature (
    node TEXT NOT NULL,
    time INTEGER NOT NULL,
    sensor TEXT NOT NULL,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    celsius REAL NOT NULL
  );
  CREATE INDEX temperature_node_time ON temperature (node, time);
  CREATE INDEX temperature_time ON temperature (time);

  CREATE TABLE cpu (
    node TEXT NOT NULL,
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
    interval_seconds REAL NOT NULL
  );
  CREATE INDEX cpu_node_time ON cpu (node, time);
  CREATE INDEX cpu_time ON cpu (time);

  CREATE TABLE load (
    node TEXT NOT NULL,
    time INTEGER NOT NULL,
    load1 REAL NOT NULL,
    load5 REAL NOT NULL,
    load15 REAL NOT NULL
  );
  CREATE INDEX load_node_time ON load (node, time);
  CREATE INDEX load_time ON load (time);

  CREATE TABLE memory (
    node TEXT NOT NULL,
    time INTEGER NOT NULL,
    mem_total_bytes INTEGER NOT NULL,
    mem_free_bytes INTEGER NOT NULL,
    mem_available_bytes INTEGER,
    buffers_bytes INTEGER,
    cached_bytes INTEGER,
    swap_total_bytes INTEGER,
    swap_free_bytes INTEGER,
    used_percent REAL NOT NULL
  );
  CREATE INDEX memory_node_time ON memory (node, time);
  CREATE INDEX memory_time ON memory (time);

  CREATE TABLE storage (
    node TEXT NOT NULL,
    time INTEGER NOT NULL,
    device TEXT NOT NULL,
    mount_point TEXT NOT NULL,
    fs_type TEXT NOT NULL,
    total_bytes INTEGER NOT NULL,
    used_bytes INTEGER NOT NULL,
    available_bytes INTEGER NOT NULL,
    used_percent REAL NOT NULL
  );
  CREATE INDEX storage_node_time ON storage (node, time);
  CREATE INDEX storage_time ON storage (time);

  CREATE TABLE network (
    node TEXT NOT NULL,
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
    tx_drops_per_second REAL
  );
  CREATE INDEX network_node_time ON network (node, time);
  CREATE INDEX network_time ON network (time);

  -- The last raw counters per node and kind, so that a fresh process (a cold Lambda, a
  -- restarted hub, two one-shot runs) computes the same rates as a long-running hub.
  CREATE TABLE counter_state (
    node TEXT NOT NULL,
    kind TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    sample_json TEXT NOT NULL,
    PRIMARY KEY (node, kind)
  ) WITHOUT ROWID;

  -- One row per node, kind and round, like node_exporter's scrape_collector_success.
  CREATE TABLE collector_runs (
    node TEXT NOT NULL,
    time INTEGER NOT NULL,
    kind TEXT NOT NULL,
    success INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    rows INTEGER NOT NULL,
    error TEXT
  );
  CREATE INDEX collector_runs_node_time ON collector_runs (node, time);
  CREATE INDEX collector_runs_time ON collector_runs (time);
  `,
];
