import Foundation
import QueryStore
import Testing

@Suite struct QueryStoreConfigurationTests {
    @Test("an empty object decodes to the documented defaults")
    func emptyDecodesToDefaults() throws {
        let decoded = try JSONDecoder().decode(QueryStoreConfiguration.self, from: Data("{}".utf8))
        #expect(decoded == QueryStoreConfiguration())
        #expect(decoded.path == "querylog.sqlite")
        #expect(decoded.queueCapacity == 65_536)
        #expect(decoded.batchSize == 10_000)
        #expect(decoded.flushInterval == .milliseconds(200))
        #expect(decoded.maxAge == .seconds(7 * 24 * 3600))
        #expect(decoded.maxRows == 10_000_000)
        #expect(decoded.retentionInterval == .seconds(300))
        #expect(decoded.busyTimeout == .seconds(5))
        #expect(decoded.validate().isEmpty)
    }

    @Test("an explicit null turns a retention limit off while an absent key keeps the default")
    func nullDisablesLimit() throws {
        let json = #"{"maxAgeHours": null, "batchSize": 50}"#
        let decoded = try JSONDecoder().decode(QueryStoreConfiguration.self, from: Data(json.utf8))
        #expect(decoded.maxAgeHours == nil)
        #expect(decoded.maxAge == nil)
        #expect(decoded.maxRows == 10_000_000)
        #expect(decoded.batchSize == 50)
    }

    @Test("encoding and decoding give back the same configuration")
    func roundTrip() throws {
        let original = QueryStoreConfiguration(path: "/var/lib/palisade/log.db", maxAgeHours: nil, maxRows: 5)
        let data = try JSONEncoder().encode(original)
        #expect(try JSONDecoder().decode(QueryStoreConfiguration.self, from: data) == original)
    }

    @Test("validation names every bad field and its value")
    func validationNamesFields() {
        let bad = QueryStoreConfiguration(
            path: "", queueCapacity: 0, batchSize: -1, flushIntervalMilliseconds: 0, maxAgeHours: 0, maxRows: 0,
            retentionIntervalSeconds: 0, busyTimeoutMilliseconds: -5)
        let problems = bad.validate()
        #expect(problems.count == 8)
        for field in [
            "path", "queueCapacity", "batchSize", "flushIntervalMilliseconds", "maxAgeHours", "maxRows",
            "retentionIntervalSeconds", "busyTimeoutMilliseconds",
        ] {
            #expect(problems.contains { $0.hasPrefix(field + " ") }, "no problem reported for \(field)")
        }
        #expect(problems.contains("batchSize must be between 1 and 100000, got -1"))
    }

    @Test(
        "a relative path is resolved inside the data directory",
        arguments: [
            ("querylog.sqlite", "/data/querylog.sqlite"),
            ("logs/q.db", "/data/logs/q.db"),
            ("/abs/q.db", "/abs/q.db"),
            (":memory:", ":memory:"),
        ])
    func resolvedPath(path: String, expected: String) {
        #expect(QueryStoreConfiguration(path: path).resolvedPath(dataDirectory: "/data") == expected)
    }
}
