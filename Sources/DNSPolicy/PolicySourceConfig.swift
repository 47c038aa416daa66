/// One policy source (an RPZ zone or a list), normalised from the configuration file.
///
/// Sources are evaluated in the order they are configured; see `docs/policy.md` for the precedence rules.
public struct PolicySourceConfig: Sendable, Hashable {
    /// The file format.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// An RPZ zone in master-file format.
        case rpz
        /// One domain per line (`example.org`, `*.example.org`), `#` comments.
        case domains
        /// A hosts file (`0.0.0.0 example.org`); localhost entries are ignored.
        case hosts
        /// The DNS subset of adblock syntax (`||example.org^`, `@@||example.org^`, `!` comments).
        case adblock
        /// Detect the format from the content.
        case auto
    }

    /// Whether the source's names are blocked or allowed.
    public enum Role: String, Sendable, Hashable, CaseIterable {
        /// Matches are blocked (or rewritten by RPZ actions).
        case block
        /// Matches are allowed: they win over every block rule except client-IP quarantine.
        case allow
    }

    /// What a source that has never loaded does.
    public enum FailMode: String, Sendable, Hashable, CaseIterable {
        /// Queries are answered as if the source were empty (and its status says so).
        case open
        /// Queries that no allowlist or earlier source decides get SERVFAIL with EDE 14 (Not Ready).
        case closed
    }

    /// What a malformed line does to the whole source.
    public enum BadLines: String, Sendable, Hashable, CaseIterable {
        /// Skip the line, count and report it, load the rest.
        case skip
        /// Refuse the whole update; the last good copy stays in use.
        case reject
    }

    /// The Extended DNS Error code policy answers from this source carry (RFC 8914 §4).
    public enum ExtendedError: String, Sendable, Hashable, CaseIterable {
        /// 15 Blocked: blocked by the operator's security policy.
        case blocked
        /// 17 Filtered: blocked because the client asked for filtering.
        case filtered
    }

    /// Unique name, used in EDE text, logs, metrics and the data-directory file name.
    public var name: String
    /// The format. Default: `.auto`.
    public var kind: Kind
    /// A file path, a `file://` URL, or an `http(s)://` URL (fetched by the ``FeedFetcher`` given).
    public var location: String
    /// How often to fetch again; nil means only at start-up and on demand. Default: nil.
    public var refreshInterval: Duration?
    /// Block or allow. Default: `.block`.
    public var role: Role
    /// The answer list matches give (RPZ rules carry their own action). Default: `.nxdomain`.
    public var answer: PolicyAnswer
    /// Forces an action on every match, or watch mode. Default: nil (the rules' own actions).
    public var override: PolicyOverride?
    /// A disabled source is neither loaded nor evaluated. Default: true.
    public var enabled: Bool
    /// What happens while the source has never loaded. Default: `.open`.
    public var failMode: FailMode
    /// Skip or reject malformed lines. Default: `.skip`.
    public var badLines: BadLines
    /// For `domains` and `hosts` lists: whether `example.org` also covers names below it (`*.example.org`
    /// always means only below). Default: true, as Pi-hole and blocky users expect.
    public var subdomains: Bool
    /// EDE code of this source's answers. Default: `.blocked` (15).
    public var extendedError: ExtendedError
    /// What an address alone on a line (`192.0.2.1`, or `||192.0.2.1^` in an adblock list) means in a `domains`,
    /// `hosts` or `adblock` block list. Default: `.ignore`.
    public var ipEntries: IPEntries

    /// The readings of an address entry in a list.
    public enum IPEntries: String, Sendable, Hashable {
        /// Counted as ignored, as Pi-hole and blocky do: a DNS query never names an address.
        case ignore
        /// A response-IP rule, as an RPZ `rpz-ip` trigger is: an answer holding the address gets the source's block
        /// answer. URL feeds list many hosts by address (about a third of the URLhaus snapshot); a name that resolves
        /// to one of them is blocked. Block lists only.
        case responseIP = "response-ip"
    }

    /// Creates a source configuration with the documented defaults.
    public init(name: String, kind: Kind = .auto, location: String, refreshInterval: Duration? = nil,
        role: Role = .block, answer: PolicyAnswer = .nxdomain, override: PolicyOverride? = nil, enabled: Bool = true,
        failMode: FailMode = .open, badLines: BadLines = .skip, subdomains: Bool = true,
        extendedError: ExtendedError = .blocked, ipEntries: IPEntries = .ignore)
    {
        self.name = name
        self.kind = kind
        self.location = location
        self.refreshInterval = refreshInterval
        self.role = role
        self.answer = answer
        self.override = override
        self.enabled = enabled
        self.failMode = failMode
        self.badLines = badLines
        self.subdomains = subdomains
        self.extendedError = extendedError
        self.ipEntries = ipEntries
    }

    /// True when a change from `other` to `self` needs the source's text to be compiled again (format,
    /// role, answer or list options changed), rather than just re-labelled.
    func needsRecompile(comparedTo other: PolicySourceConfig) -> Bool {
        self.kind != other.kind || self.role != other.role || self.answer != other.answer
            || self.subdomains != other.subdomains || self.badLines != other.badLines || self.location != other.location
            || self.ipEntries != other.ipEntries
    }
}
