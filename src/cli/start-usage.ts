/** `relaymesh start --help`, kept apart from start.ts so printing it loads no broker code. */
export const START_USAGE = `relaymesh start [options]

Every setting comes from, highest first: a flag, a RELAYMESH_* environment variable, the config
file, the default. One rule names them: config key retention.maxEntries (nested in the file),
flag --retention-max-entries, variable RELAYMESH_RETENTION_MAX_ENTRIES. Every broker option is a
setting (docs/configuration.md lists them); the common ones:

  --config <file>          YAML (.yaml/.yml) or JSON config file (or RELAYMESH_CONFIG)
  --print-config           print the effective settings (secrets masked, sources noted) and exit
  --host <addr>            address to listen on (default 0.0.0.0)
  --port <n>               WebSocket port (default 8080; 0 picks a free one)
  --data-dir <dir>         LMDB data directory (default ./data)
  --shards <n>             shard supervisors (default 16)
  --heartbeat-ms <n>       client ping interval (default 30000)
  --idle-timeout-ms <n>    close silent connections after this (default 2.5 x heartbeat)
  --max-frame-bytes <n>    largest accepted frame (default 262144)
  --log-level <level>      fatal|error|warn|info|debug|trace|silent (default info)
  --node-id <name>         this broker's name (default node-1)
  --durability <mode>      flush (QoS 1 acked once on disk, default) | commit (once committed)
  --jwt-secret <secret>    verify HS256 device tokens with this secret
  --jwt-secret-file <file> ... read from this file (any secret: --admin-token-file, --cluster-secret-file)
  --jwt-public-key <file>  verify RS256/ES256 device tokens with this PEM public key
  --jwks-file <file>       verify device tokens with the keys of this JWKS file
  --acl-file <file>        static topic ACL (JSON) for tokens without a scope
  --tls-key <file> --tls-cert <file> [--tls-ca <file>]   serve wss:// (client certificates checked against the CA)
  --admin-token <token>    enable the admin HTTP API (/admin/...) behind this bearer token
  --cluster-port <n>       join a cluster: this node's cluster port (with --peers and a secret)
  --cluster-host <addr>    address of the cluster port (default 127.0.0.1)
  --peers <list>           seed peers, nodeId@host:port,... (e.g. b@127.0.0.2:9101)
  --cluster-secret <s>     shared cluster secret (or RELAYMESH_CLUSTER_SECRET)
  --workers <n|auto>       run n broker processes on this machine sharing the device port
                           (auto: one per core; default 0: the broker runs in this process),
                           clustered, each with its own data dir
                           (<data-dir>/w<i>) and cluster port (--cluster-port + i); a worker
                           that dies is restarted on its data dir
  --rate-limit <n>         frames per second a connection may send (default 10000)
  --shutdown-timeout-ms <n>  on SIGTERM, exit after at most this (default 10000)
  --allow-uws-fallback     run even if uWebSockets.js fell back to pure JS (slow)

Without --jwt-* or --trusted-proxy-* settings, start accepts any device (anonymous mode) and logs so.
Bad configuration stops start-up with one line naming the setting and its source (exit 1).`;
