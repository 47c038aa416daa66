import Foundation

/// A throw-away CA and a server certificate made with `openssl` for TLS tests.
public struct TestCertificates: Sendable {
    /// PEM of the CA certificate (what the client trusts).
    public let caFile: String
    /// PEM of the server certificate, signed by the CA.
    public let certificateFile: String
    /// PEM of the server's private key.
    public let keyFile: String
    /// The server key's pin, `sha256/BASE64` of its SubjectPublicKeyInfo, computed by openssl
    /// (independently of the code under test).
    public let pin: String
    /// The DNS name in the certificate.
    public let serverName: String

    /// Generates a P-256 CA and a server certificate for `serverName` (and IP 127.0.0.1 when `includeIP`)
    /// in `directory`.
    /// - Throws: ``TestDaemonError`` with openssl's output when a step fails.
    public static func generate(in directory: TemporaryDirectory, serverName: String = "dns.example.org",
        includeIP: Bool = false) async throws -> TestCertificates
    {
        let ca = directory.file("ca.pem")
        let caKey = directory.file("ca.key")
        let key = directory.file("server.key")
        let csr = directory.file("server.csr")
        let cert = directory.file("server.pem")
        let ext = try directory.write("server.ext",
            "subjectAltName=DNS:\(serverName)\(includeIP ? ",IP:127.0.0.1" : "")\nbasicConstraints=CA:FALSE\n"
                + "extendedKeyUsage=serverAuth\n")
        try await Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", caKey, "-out", ca, "-days", "2", "-subj", "/CN=Palisade Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try await Self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=\(serverName)"])
        try await Self.openssl(["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert,
            "-days", "2", "-extfile", ext])
        // SPKI DER of the server key, hashed with SHA-256 (RFC 7469 §2.4).
        let spki = directory.file("server.spki")
        try await Self.openssl(["pkey", "-in", key, "-pubout", "-outform", "DER", "-out", spki])
        let digest = directory.file("server.spki.sha256")
        try await Self.openssl(["dgst", "-sha256", "-binary", "-out", digest, spki])
        let hash = try Data(contentsOf: URL(fileURLWithPath: digest))
        return TestCertificates(caFile: ca, certificateFile: cert, keyFile: key,
            pin: "sha256/" + hash.base64EncodedString(), serverName: serverName)
    }

    private static func openssl(_ arguments: [String]) async throws {
        let out = try await ExternalTool.run("openssl", arguments)
        guard out.status == 0 else { throw TestDaemonError("openssl failed:\n\(out)") }
    }
}
