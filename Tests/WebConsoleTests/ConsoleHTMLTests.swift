import Testing

@testable import WebConsole

/// The escaping that keeps attacker-chosen names, labels and images inert in the console's pages.
@Suite struct ConsoleHTMLTests {
    @Test("Interpolated strings are escaped for text and quoted attributes; literals and fragments are not")
    func interpolationEscapes() {
        let hostile = "<script>alert(\"x\")</script>'&"
        let html: ConsoleHTML = "<td title=\"\(hostile)\">\(hostile)</td>"
        let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;"
        #expect(html.rendered == "<td title=\"\(escaped)\">\(escaped)</td>")
        let inner: ConsoleHTML = "<b>\("a<b")</b>"
        let outer: ConsoleHTML = "<p>\(inner)</p>"
        #expect(outer.rendered == "<p><b>a&lt;b</b></p>")
    }

    @Test("Control characters become U+FFFD; tabs, newlines and non-ASCII text are kept")
    func controlCharacters() {
        #expect(ConsoleHTML.escape("a\u{0}b\u{1B}c\u{7F}d") == "a\u{FFFD}b\u{FFFD}c\u{FFFD}d")
        #expect(ConsoleHTML.escape("x\ty\nz é 名") == "x\ty\nz é 名")
    }

    @Test("Link parameters are percent-encoded so a value cannot add parameters or leave the attribute")
    func urlEncoding() {
        let url = ConsoleURL.make("/search", [("name", "a&b=c\"<>/ é"), ("empty", ""), ("none", nil), ("x", "1")])
        #expect(url == "/search?name=a%26b%3Dc%22%3C%3E%2F%20%C3%A9&x=1")
        #expect(ConsoleURL.decode("a%26b%3Dc%22%3C%3E%2F%20%C3%A9") == "a&b=c\"<>/ é")
        #expect(ConsoleURL.decode("bad%2") == nil)
        #expect(ConsoleURL.decode("bad%zz") == nil)
        #expect(ConsoleURL.decode("%FF%FE") == nil, "bytes that are not UTF-8 are refused")
    }

    @Test("Form-encoded query strings decode + as a space and %2B as a plus")
    func formDecoding() {
        let p = ConsoleParameters(query: "workload_name=web+1&name=a%2Bb.example&empty=&blocked")
        #expect(p.get("workload_name") == "web 1")
        #expect(p.get("name") == "a+b.example")
        #expect(p.get("empty") == nil)
        #expect(p.get("blocked") == nil)
        #expect(p.get("missing") == nil)
    }

    @Test("SVG coordinates have at most two decimals and no exponent", arguments: [
        (0.0, "0"), (1.5, "1.5"), (2.25, "2.25"), (3.004, "3"), (-1.05, "-1.05"), (1e-9, "0"), (123456.789, "123456.79"),
        (Double.nan, "0"),
    ])
    func coordinates(value: Double, expected: String) {
        #expect(ConsoleHTML.coordinate(value) == expected)
    }

    @Test("Chart axes round up to 1, 2 or 5 times a power of ten")
    func niceCeiling() {
        #expect(ConsoleCharts.niceCeiling(1) == 1)
        #expect(ConsoleCharts.niceCeiling(3) == 5)
        #expect(ConsoleCharts.niceCeiling(11) == 20)
        #expect(ConsoleCharts.niceCeiling(500) == 500)
        #expect(ConsoleCharts.niceCeiling(501) == 1000)
        #expect(ConsoleCharts.compact(12_345) == "12k")
        #expect(ConsoleCharts.compact(3_400_000) == "3.4M")
    }
}
