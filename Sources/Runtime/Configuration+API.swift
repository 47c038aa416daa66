import DNSPolicy
import DNSWire
import Foundation
import WebConsole

/// The REST API under `/api/v1` on the `http` address (docs/api.md). Reads need no token; changes
/// (quarantine, operator allow/deny rules) need `Authorization: Bearer <token>`.
public struct APIConfiguration: Codable, Sendable, Equatable {
    /// Tokens that may change state; each change is recorded with the token's name as the actor. Default:
    /// none, which disables changes (they answer 403) and keeps reads open.
    public var tokens: [APITokenEntry]

    /// Defaults as documented.
    public init() {
        self.tokens = []
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.tokens = try c.decodeIfPresent([APITokenEntry].self, forKey: .tokens) ?? []
    }
}

/// One API token.
public struct APITokenEntry: Codable, Sendable, Equatable {
    /// Who uses it (`ops`, `ci`): recorded as the actor of every change made with it.
    public var name: String
    /// The token itself, at least 16 characters. Prefer `tokenFile`, which keeps it out of the configuration.
    public var token: String?
    /// A file whose first line is the token (e.g. a container secret under /run/secrets). Preferred.
    public var tokenFile: String?
}

/// Quarantine: cutting a workload's DNS off from the API until it is released.
public struct QuarantineConfiguration: Codable, Sendable, Equatable {
    /// The answer quarantined queries get when the request names none: `refused` (EDE 18 Prohibited) or
    /// `nxdomain` (EDE 15 Blocked). Default `refused`.
    public var answer: String
    /// Names (and everything below them) a quarantined workload may still resolve, e.g. its image registry.
    /// Default: none.
    public var allowlist: [String]
    /// The strongest container action a quarantine request may take: `none`, `pause` or `stop` (needs the
    /// container engine connection of the identity module). Default `none`.
    public var containerAction: String

    /// Defaults as documented.
    public init() {
        self.answer = "refused"
        self.allowlist = []
        self.containerAction = "none"
    }

    public init(from decoder: any Decoder) throws {
        let d = QuarantineConfiguration()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.answer = try c.decodeIfPresent(String.self, forKey: .answer) ?? d.answer
        self.allowlist = try c.decodeIfPresent([String].self, forKey: .allowlist) ?? d.allowlist
        self.containerAction = try c.decodeIfPresent(String.self, forKey: .containerAction) ?? d.containerAction
    }
}

extension PalisadeConfiguration {
    /// Problems in the `api` and `quarantine` sections, each with its key path.
    func validateAPI() -> [String] {
        var e: [String] = []
        var names: Set<String> = []
        for (i, t) in self.api.tokens.enumerated() {
            let at = "api.tokens[\(i)]"
            if t.name.isEmpty || t.name.contains(where: { $0.isWhitespace || $0.isNewline }) {
                e.append("\(at).name: must be a non-empty word")
            }
            if !names.insert(t.name).inserted { e.append("\(at).name: '\(t.name)' is used by an earlier token") }
            switch (t.token, t.tokenFile) {
            case (nil, nil), (.some, .some):
                e.append("\(at): give exactly one of token or tokenFile")
            case (let token?, nil) where token.utf8.count < 16:
                e.append("\(at).token: shorter than 16 characters (generate one with: openssl rand -hex 32)")
            case (nil, let file?) where !FileManager.default.isReadableFile(atPath: file):
                e.append("\(at).tokenFile: cannot read '\(file)'")
            default: break
            }
        }
        if QuarantineEntry.Answer(rawValue: self.quarantine.answer) == nil {
            e.append("quarantine.answer: '\(self.quarantine.answer)' is not refused or nxdomain")
        }
        if ContainerAction(rawValue: self.quarantine.containerAction) == nil {
            e.append("quarantine.containerAction: '\(self.quarantine.containerAction)' is not none, pause or stop")
        }
        for (i, n) in self.quarantine.allowlist.enumerated() where (try? DomainName(n.hasSuffix(".") ? n : n + ".")) == nil {
            e.append("quarantine.allowlist[\(i)]: '\(n)' is not a domain name")
        }
        return e
    }

    /// The API tokens with their secrets read from their files.
    /// - Throws: ``StartupError`` naming the token and file when a file cannot be read or holds a short token.
    func apiTokens() throws -> [APIToken] {
        try self.api.tokens.map { t in
            if let token = t.token { return APIToken(name: t.name, secret: token) }
            let file = t.tokenFile ?? ""
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw StartupError(message: "api token '\(t.name)': cannot read tokenFile \(file): \(error.localizedDescription)")
            }
            let secret = String(text.split(whereSeparator: \.isNewline).first ?? "").trimmingCharacters(in: .whitespaces)
            guard secret.utf8.count >= 16 else {
                throw StartupError(message: "api token '\(t.name)': the first line of \(file) is shorter than 16 characters "
                    + "(generate one with: openssl rand -hex 32)")
            }
            return APIToken(name: t.name, secret: secret)
        }
    }

    /// The quarantine allowlist as names.
    func quarantineAllowlist() -> [DomainName] {
        self.quarantine.allowlist.compactMap { try? DomainName($0.hasSuffix(".") ? $0 : $0 + ".") }
    }
}
