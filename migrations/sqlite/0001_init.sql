-- +goose Up
-- Times are RFC 3339 UTC text with nanoseconds (sortable as text); dates are YYYY-MM-DD.

-- One row per postmortem; the current revision's fields are copied here for listing.
CREATE TABLE postmortems (
    id              TEXT PRIMARY KEY,
    title           TEXT NOT NULL,
    url             TEXT NOT NULL DEFAULT '',
    severity        TEXT NOT NULL DEFAULT '',
    team            TEXT NOT NULL DEFAULT '',
    signed_off_at   TEXT,                 -- from the document; NULL when absent
    accepted_at     TEXT NOT NULL,        -- first acceptance
    sort_at         TEXT NOT NULL,        -- signed_off_at or accepted_at: the list order
    state           TEXT NOT NULL DEFAULT 'tracking' CHECK (state IN ('tracking','reopened','completed')),
    reopened_count  INTEGER NOT NULL DEFAULT 0,
    own_kind        TEXT,                 -- the postmortem's own ticket, if any
    own_key         TEXT,
    revision        INTEGER NOT NULL,     -- current revision number, from 1
    updated_at      TEXT NOT NULL
);
CREATE INDEX postmortems_list ON postmortems (sort_at DESC, id DESC);

-- Every accepted version of a postmortem, as canonical JSON and its hash.
CREATE TABLE postmortem_revisions (
    postmortem_id TEXT NOT NULL REFERENCES postmortems (id),
    revision      INTEGER NOT NULL,
    doc_hash      TEXT NOT NULL,
    document      TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    PRIMARY KEY (postmortem_id, revision)
);

-- Action items, current version. Removed items stay with removed = 1.
CREATE TABLE items (
    postmortem_id     TEXT NOT NULL REFERENCES postmortems (id),
    item_id           TEXT NOT NULL,
    position          INTEGER NOT NULL,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    owner             TEXT NOT NULL,
    priority          TEXT NOT NULL DEFAULT 'P2',
    due               TEXT,
    type              TEXT NOT NULL DEFAULT '',
    team              TEXT NOT NULL DEFAULT '',
    labels            TEXT NOT NULL DEFAULT '[]',   -- JSON array
    target_kind       TEXT NOT NULL,
    target_scope      TEXT NOT NULL,                -- repo or project
    target_issue_type TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','in_progress','done','wont_do')),
    removed           INTEGER NOT NULL DEFAULT 0,
    sync              TEXT NOT NULL DEFAULT 'pending' CHECK (sync IN ('pending','linked','failed')),
    last_error        TEXT,
    stalled_reason    TEXT,                         -- NULL, 'overdue' or 'inactive'
    last_activity_at  TEXT,                         -- people's last activity on the ticket
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (postmortem_id, item_id)
);

-- Tickets made for items. An item has at most one current ticket; a moved item keeps its old
-- ticket here with current = 0. One ticket never belongs to two items.
CREATE TABLE tickets (
    id                 INTEGER PRIMARY KEY,
    postmortem_id      TEXT NOT NULL,
    item_id            TEXT NOT NULL,
    kind               TEXT NOT NULL,
    scope              TEXT NOT NULL,
    key                TEXT NOT NULL,
    url                TEXT NOT NULL,
    current            INTEGER NOT NULL DEFAULT 1,
    created_at         TEXT NOT NULL,       -- the tracker's creation time
    tracker_updated_at TEXT,                -- the tracker's updated time of the last event applied
    deleted_at         TEXT,
    FOREIGN KEY (postmortem_id, item_id) REFERENCES items (postmortem_id, item_id),
    UNIQUE (kind, key)
);
CREATE UNIQUE INDEX tickets_one_current ON tickets (postmortem_id, item_id) WHERE current = 1;
CREATE INDEX tickets_scope ON tickets (kind, scope);

-- Every status change of an item, from whichever side.
CREATE TABLE status_history (
    id            INTEGER PRIMARY KEY,
    postmortem_id TEXT NOT NULL,
    item_id       TEXT NOT NULL,
    from_status   TEXT NOT NULL,
    to_status     TEXT NOT NULL,
    source        TEXT NOT NULL,   -- github, jira, api, reconcile, revision
    actor         TEXT NOT NULL DEFAULT '',
    at            TEXT NOT NULL,
    FOREIGN KEY (postmortem_id, item_id) REFERENCES items (postmortem_id, item_id)
);
CREATE INDEX status_history_item ON status_history (postmortem_id, item_id, id);

-- Work to do outside the database (tracker calls, notifications), written in the same
-- transaction as the change that needs it. dedupe_key makes one piece of work be queued once.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    postmortem_id   TEXT NOT NULL,
    item_id         TEXT NOT NULL DEFAULT '',
    tracker         TEXT NOT NULL DEFAULT '',     -- for per-tracker concurrency
    dedupe_key      TEXT UNIQUE,
    payload         TEXT NOT NULL DEFAULT '{}',   -- JSON
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_owner     TEXT,
    lease_until     TEXT,
    in_flight       INTEGER NOT NULL DEFAULT 0,   -- a create was sent whose outcome is not known
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    done_at         TEXT,
    failed_at       TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE done_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_item ON outbox (postmortem_id, item_id);

-- Webhook deliveries seen, inbound events persisted before they are acknowledged.
CREATE TABLE webhook_deliveries (
    source      TEXT NOT NULL,    -- github, jira
    delivery_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (source, delivery_id)
);

CREATE TABLE inbound_events (
    id           INTEGER PRIMARY KEY,
    source       TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    event        TEXT NOT NULL,
    payload      BLOB NOT NULL,
    received_at  TEXT NOT NULL,
    processed_at TEXT,
    error        TEXT
);
CREATE INDEX inbound_pending ON inbound_events (id) WHERE processed_at IS NULL;

-- Where reconciliation got to, per repository or project.
CREATE TABLE reconcile_cursors (
    kind        TEXT NOT NULL,
    scope       TEXT NOT NULL,
    since       TEXT NOT NULL,
    PRIMARY KEY (kind, scope)
);

-- +goose Down
-- Forward-only: no down migration.
