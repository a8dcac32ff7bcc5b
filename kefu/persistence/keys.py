"""Every Redis key the project owns, built under one prefix (default ``kefu:``).

Backup, flush and key queries stay inside :attr:`Keys.prefix`; nothing else in the code
spells a key.
"""

from __future__ import annotations

from dataclasses import dataclass

DISPATCHER_SHARD = "D"  # cluster mode: the dispatcher's shard (the others are numbers)


@dataclass(frozen=True)
class Keys:
    """Key builders for one prefix."""

    prefix: str = "kefu:"

    # users and auth
    def user(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}"

    @property
    def users(self) -> str:
        """ZSET of user ids scored by creation time."""
        return f"{self.prefix}users"

    def token(self, digest: str) -> str:
        """STRING with TTL: user id, keyed by the token's SHA-256 (never the token)."""
        return f"{self.prefix}token:{digest}"

    def user_tokens(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}:tokens"

    @property
    def guests_seen(self) -> str:
        """ZSET: guest (anonymous kehu) id → last activity, epoch seconds
        (``persistence/guests.py`` removes the idle ones)."""
        return f"{self.prefix}guests:seen"

    @property
    def guests_indexed(self) -> str:
        """STRING: set once the guests created before ``guests_seen`` were indexed."""
        return f"{self.prefix}guests:indexed"

    def rate(self, kind: str, subject: str, window: int) -> str:
        """STRING with expiry: a fixed-window counter (``persistence/rate_limits.py``);
        ``kind`` guest | login | msg, ``window`` the window's index since the epoch."""
        return f"{self.prefix}rate:{kind}:{subject}:{window}"

    # sessions and messages
    def session(self, sid: str) -> str:
        """HASH: a session's metadata and statistics (its snapshot)."""
        return f"{self.prefix}session:{sid}"

    def stream(self, sid: str) -> str:
        """STREAM: a session's chat messages, entry id ``0-<seq>``."""
        return f"{self.prefix}session:{sid}:msgs"

    def events(self, sid: str) -> str:
        """LIST: a session's system events (opened, transferred, ended)."""
        return f"{self.prefix}session:{sid}:events"

    @property
    def sessions(self) -> str:
        """ZSET of every session id scored by creation time."""
        return f"{self.prefix}sessions"

    def user_sessions(self, user_id: str) -> str:
        """ZSET of a user's session ids scored by last opening."""
        return f"{self.prefix}user:{user_id}:sessions"

    def active_sessions(self, user_id: str) -> str:
        """SET: a user's active session ids (kept by the assign and close scripts)."""
        return f"{self.prefix}user:{user_id}:active"

    @property
    def message_index(self) -> str:
        """HASH: message id → ``session_id|seq``."""
        return f"{self.prefix}msgidx"

    def dedup(self, user_id: str, client_msg_id: str) -> str:
        """STRING with TTL: the stored message a ``client_msg_id`` produced."""
        return f"{self.prefix}dedup:{user_id}:{client_msg_id}"

    def waiting_messages(self, kehu_id: str) -> str:
        """LIST: messages a kehu sent while it had no session (kept until assignment)."""
        return f"{self.prefix}waitmsgs:{kehu_id}"

    # dispatcher and agents
    @property
    def queue(self) -> str:
        """HASH: kehu id → JSON queue entry."""
        return f"{self.prefix}queue"

    @property
    def offers(self) -> str:
        """HASH: kehu id → JSON of the offer out for it (one agent at a time)."""
        return f"{self.prefix}offers"

    @property
    def assignments(self) -> str:
        """HASH: kehu id → the active session id."""
        return f"{self.prefix}assign"

    def agent(self, kefu_id: str) -> str:
        """HASH: an agent actor's snapshot (status, focus, unread, figures)."""
        return f"{self.prefix}agent:{kefu_id}"

    @property
    def agent_figures(self) -> str:
        """HASH: kefu id → JSON response-time and rating totals (the dispatcher's)."""
        return f"{self.prefix}agentfigures"

    # message indexes and statistics (written by the append scripts in redis.py)
    @property
    def msgs_by_time(self) -> str:
        """ZSET: ``sid|seq`` of every message, scored by epoch milliseconds."""
        return f"{self.prefix}msgs:time"

    def user_sent(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}:sent"

    def user_received(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}:recv"

    def msgs_by_type(self, content_type: str) -> str:
        return f"{self.prefix}msgs:type:{content_type}"

    def stats_day(self, day: str) -> str:
        """HASH of counters for one UTC day ``YYYYMMDD``."""
        return f"{self.prefix}stats:d:{day}"

    def stats_hour(self, hour: str) -> str:
        """HASH of counters for one UTC hour ``YYYYMMDDHH``."""
        return f"{self.prefix}stats:h:{hour}"

    @property
    def deleted_messages(self) -> str:
        """HASH: deleted message id → JSON tombstone ``{"by", "at"}`` (the stream keeps it)."""
        return f"{self.prefix}deleted"

    @property
    def audit_log(self) -> str:
        """STREAM (capped): audit entries of admin operations (who, what, when)."""
        return f"{self.prefix}audit"

    @property
    def system_log(self) -> str:
        """STREAM (capped): structured system events."""
        return f"{self.prefix}log"

    @property
    def maintenance(self) -> str:
        """HASH: maintenance mode (enabled, message, since, by); kept by a flush."""
        return f"{self.prefix}maintenance"

    # cluster mode (kefu/cluster/, docs/cluster.md)
    def lease(self, shard: str) -> str:
        """STRING with PX: the node that owns shard ``shard`` (a number, or ``D`` for the
        dispatcher's)."""
        return f"{self.prefix}lease:{shard}"

    def epoch(self, shard: str) -> str:
        """INTEGER: bumped at every new acquisition of the shard (the fencing token)."""
        return f"{self.prefix}epoch:{shard}"

    @property
    def lease_log(self) -> str:
        """STREAM (capped): every acquisition (shard, node, epoch), for drills and audits."""
        return f"{self.prefix}leaselog"

    @property
    def nodes(self) -> str:
        """ZSET: node id → its heartbeat's expiry (epoch ms)."""
        return f"{self.prefix}nodes"

    def node_info(self, node: str) -> str:
        """HASH: a node's address, start time, draining flag."""
        return f"{self.prefix}node:{node}"

    def presence(self, node: str) -> str:
        """HASH: user id → live sockets on ``node`` (expires with its heartbeat)."""
        return f"{self.prefix}presence:{node}"

    def inbox(self, shard: str) -> str:
        """STREAM: the mailbox of every actor of ``shard`` (consumer group ``own``)."""
        return f"{self.prefix}inbox:{shard}"

    @property
    def fenced_count(self) -> str:
        """HASH: node id → writes its scripts refused as fenced."""
        return f"{self.prefix}fenced"

    def node_channel(self, salt: str) -> str:
        """PUB/SUB channel: frames for one of a node's connections and replies to its
        asks (``salt``: the node's, the high bits of its connection ids)."""
        return f"{self.prefix}n:{salt}"

    @property
    def frames_channel(self) -> str:
        """PUB/SUB channel: frames for users and kicks, heard by every node."""
        return f"{self.prefix}frames"

    # Redis under Sentinel (docs/reliability.md, "Redis failover")
    @property
    def replication_mark(self) -> str:
        """INTEGER: bumped right before a ``WAIT`` so that the wait covers every earlier
        write of any connection (WAIT waits for the caller's own last write)."""
        return f"{self.prefix}replmark"

    # teams (docs/routing.md, "Teams")
    @property
    def teams(self) -> str:
        """SET: every team id."""
        return f"{self.prefix}teams"

    def team(self, team_id: str) -> str:
        """HASH: a team's settings (name, description, assignment, overflow, max wait)."""
        return f"{self.prefix}team:{team_id}"

    def team_members(self, team_id: str) -> str:
        """HASH: kefu id → skill level (1-5) in the team."""
        return f"{self.prefix}team:{team_id}:members"

    # messages left (docs/routing.md, "Leave a message")
    def left(self, left_id: str) -> str:
        """HASH: one message left (customer, team, contact fields, reply, status)."""
        return f"{self.prefix}left:{left_id}"

    @property
    def left_all(self) -> str:
        """ZSET: every message left by its time."""
        return f"{self.prefix}left:all"

    @property
    def left_open(self) -> str:
        """ZSET: the messages left that nobody answered yet, by time."""
        return f"{self.prefix}left:open"

    def left_by(self, kehu_id: str) -> str:
        """ZSET: a customer's messages left, by time."""
        return f"{self.prefix}left:by:{kehu_id}"

    # canned responses (issue 15)
    def canned(self, canned_id: str) -> str:
        """HASH: one canned response (shortcut, title, content, owner or team)."""
        return f"{self.prefix}canned:{canned_id}"

    @property
    def canned_all(self) -> str:
        """SET: every canned response id."""
        return f"{self.prefix}canned:all"

    def notes(self, sid: str) -> str:
        """LIST: a session's private notes between agents (never its message stream)."""
        return f"{self.prefix}notes:{sid}"

    # tags on conversations (issue 15)
    def session_tags(self, sid: str) -> str:
        """SET: a session's tags (``persistence/tags.py`` keeps it and the indexes)."""
        return f"{self.prefix}session:{sid}:tags"

    @property
    def tag_prefix(self) -> str:
        """The prefix of the per-tag indexes (the set-tags script builds them from it)."""
        return f"{self.prefix}tag:"

    def tag_sessions(self, tag: str) -> str:
        """ZSET: the sessions carrying ``tag``, scored by their creation time."""
        return f"{self.tag_prefix}{tag}"

    @property
    def tags_used(self) -> str:
        """ZSET: tag → how many sessions carry it (suggestions; gone at 0)."""
        return f"{self.prefix}tags:used"

    # uploads (issue 15)
    def upload(self, upload_id: str) -> str:
        """HASH: an uploaded file's metadata (session, uploader, name, type, size)."""
        return f"{self.prefix}upload:{upload_id}"

    # customer context (issue 15)
    def customer(self, kehu_id: str) -> str:
        """HASH: a customer's profile (email, phone, pre-chat answers, identity)."""
        return f"{self.prefix}customer:{kehu_id}"

    def customer_attrs(self, kehu_id: str) -> str:
        """HASH: a customer's custom attributes, key → JSON value."""
        return f"{self.prefix}customer:{kehu_id}:attrs"

    @property
    def widget_form(self) -> str:
        """STRING: the pre-chat form (JSON), as the admin configured it."""
        return f"{self.prefix}widget:form"

    def widget_site(self, site_id: str) -> str:
        """HASH: an embedding site (name, identify secret)."""
        return f"{self.prefix}widget:site:{site_id}"

    @property
    def widget_sites(self) -> str:
        """SET: every embedding site id."""
        return f"{self.prefix}widget:sites"

    def identity(self, site_id: str, digest: str) -> str:
        """STRING: the customer id bound to (site, SHA-256 of the site's user id)."""
        return f"{self.prefix}identity:{site_id}:{digest}"

    # webhooks (issue 16): also spelled inside the Lua scripts (kefu/persistence/webhook_events.py)
    def webhook(self, hook_id: str) -> str:
        """HASH: one outbound webhook (url, events, secret, active)."""
        return f"{self.prefix}webhooks:hook:{hook_id}"

    def webhook_log(self, hook_id: str) -> str:
        """LIST: a webhook's latest delivery attempts (JSON), newest first, capped."""
        return f"{self.prefix}webhooks:hook:{hook_id}:log"

    @property
    def webhooks_all(self) -> str:
        """SET: every webhook id."""
        return f"{self.prefix}webhooks:all"

    @property
    def webhooks_subscribed(self) -> str:
        """SET: the event types some active webhook wants (the scripts read it)."""
        return f"{self.prefix}webhooks:subscribed"

    @property
    def webhooks_outbox(self) -> str:
        """STREAM: events not delivered yet (consumer group ``deliver``), capped."""
        return f"{self.prefix}webhooks:outbox"

    @property
    def webhooks_retries(self) -> str:
        """ZSET: failed deliveries (JSON: event, hook, attempt) scored by when due."""
        return f"{self.prefix}webhooks:retries"

    # data rights (issue 16: persistence/erasure.py, persistence/retention.py)
    def erasure(self, kehu_id: str) -> str:
        """HASH: an erased customer's record (state running|done, by, at, counts)."""
        return f"{self.prefix}erased:{kehu_id}"

    def erasure_stream(self, sid: str) -> str:
        """STREAM: a session's messages being rewritten as tombstones (then renamed)."""
        return f"{self.prefix}erasing:{sid}"

    def purging(self, sid: str) -> str:
        """STREAM: a purged session's messages whose indexes are being removed."""
        return f"{self.prefix}purging:{sid}"

    @property
    def purge_pending(self) -> str:
        """SET: session ids claimed by a purge whose indexes are not all removed yet."""
        return f"{self.prefix}purge:pending"

    @property
    def purge_lock(self) -> str:
        """STRING with PX: the node running a retention purge (one at a time)."""
        return f"{self.prefix}purge:lock"
