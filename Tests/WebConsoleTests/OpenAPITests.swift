import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
@testable import WebConsole

@Suite struct OpenAPITests {
    @Test("Every registered /api route, with its path parameters, is described in the OpenAPI document")
    func everyRouteDocumented() throws {
        let router = Router(context: PalisadeRequestContext.self)
        let routes = APIRoutes.add(to: router, dependencies: APIDependencies(store: nil))
        #expect(routes.count == 19)
        let data = Data(OpenAPIDocument.document.json.utf8)
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(doc["openapi"] as? String == "3.1.0")
        let paths = try #require(doc["paths"] as? [String: [String: Any]])
        for route in routes {
            let item = paths[route.path]
            let operation = item?[route.method.lowercased()] as? [String: Any]
            #expect(operation != nil, "\(route) is not in the OpenAPI document")
            let declared = Set(((operation?["parameters"] as? [[String: Any]]) ?? []).filter { $0["in"] as? String == "path" }
                .compactMap { $0["name"] as? String })
            let inPath = Set(route.path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) })
            #expect(declared == inPath, "\(route): path parameters \(inPath) declared as \(declared)")
            #expect((operation?["security"] != nil) == route.mutating, "\(route): security must match the token check")
        }
        let documented = paths.flatMap { path, item in item.keys.map { "\($0.uppercased()) \(path)" } }
        #expect(Set(documented) == Set(routes.map(\.description)), "the document describes routes that do not exist")
        // Every schema reference resolves.
        let schemas = try #require((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let refs = OpenAPIDocument.document.json.matches(of: try Regex(#"#/components/schemas/(\w+)"#))
        for m in refs {
            let name = String(m.output[1].substring ?? "")
            #expect(schemas[name] != nil, "missing schema \(name)")
        }
    }

    @Test("The document is served as JSON and YAML")
    func served() async throws {
        try await withAPI(APIDependencies(store: nil)) { client in
            let jsonResponse = try await client.execute(uri: "/api/v1/openapi.json", method: .get)
            #expect(jsonResponse.status == .ok)
            #expect(jsonResponse.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(try json(jsonResponse)["openapi"] as? String == "3.1.0")
            let yaml = try await client.execute(uri: "/api/v1/openapi.yaml", method: .get)
            #expect(yaml.status == .ok)
            let text = String(buffer: yaml.body)
            #expect(text.hasPrefix("\"openapi\": \"3.1.0\"\n"))
            #expect(text.contains("\n  \"/api/v1/events\":\n"))
        }
    }

    @Test("YAML output nests objects and lists by indentation")
    func yamlShape() {
        let v: JSONValue = ["a": ["b": 1, "c": ["x", ["d": true]]], "e": [], "f": .null]
        #expect(v.yaml == """
            "a":
              "b": 1
              "c":
                - "x"
                - "d": true
            "e": []
            "f": null

            """)
    }
}

@Suite struct APILiveTests {
    @Test("Over a real socket (port 0): a token-authorised change and a read round-trip")
    func live() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        let router = Router(context: PalisadeRequestContext.self)
        APIRoutes.add(to: router, dependencies: f.dependencies())
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let (created, _) = try await send(client, .post, "/api/v1/rules/deny", #"{"domain": "evil.example"}"#)
            #expect(created == .created)
            let (status, body) = try await get(client, "/api/v1/rules")
            #expect(status == .ok)
            #expect((body["deny"] as? [[String: Any]])?.first?["added_by"] as? String == "ops")
        }
    }
}
