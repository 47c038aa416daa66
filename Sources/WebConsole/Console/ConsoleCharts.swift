import QueryStore

/// Charts drawn on the server as inline SVG: no script, no external resource, and colours come from classes
/// in `/console.css` (the Content-Security-Policy forbids inline styles).
enum ConsoleCharts {
    /// One bar per bucket: all queries, with the blocked ones drawn over them in red.
    ///
    /// - Parameters:
    ///   - buckets: Oldest first, as ``QueryStore/timeSeries(sinceMicros:untilMicros:bucket:)`` returns them.
    ///   - bucketMicros: The bucket width.
    ///   - withDate: Whether axis labels include the date (windows longer than a day).
    ///   - label: The chart's accessible name.
    static func timeSeries(_ buckets: [TimeBucket], bucketMicros: Int64, withDate: Bool, label: String) -> ConsoleHTML {
        let width = 960.0
        let height = 240.0
        let left = 56.0
        let right = 8.0
        let top = 12.0
        let bottom = 28.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let peak = buckets.map(\.queries).max() ?? 0
        let scale = Self.niceCeiling(max(peak, 1))
        var out: ConsoleHTML = """
            <svg class="chart timeseries" viewBox="0 0 960 240" role="img" aria-label="\(label)" \
            preserveAspectRatio="xMidYMid meet">
            """
        // Horizontal grid lines and their values: 0, half, full scale.
        for step in 0...2 {
            let value = scale * step / 2
            let y = top + plotHeight - plotHeight * Double(value) / Double(scale)
            out += """
                <line class="grid" x1="\(coordinate: left)" y1="\(coordinate: y)" x2="\(coordinate: width - right)" \
                y2="\(coordinate: y)"/><text class="axis" x="\(coordinate: left - 6)" y="\(coordinate: y + 4)" \
                text-anchor="end">\(Self.compact(value))</text>
                """
        }
        guard !buckets.isEmpty else { return out + "</svg>" }
        let slot = plotWidth / Double(buckets.count)
        let gap = slot > 4 ? 1.0 : 0.0
        for (i, b) in buckets.enumerated() {
            let x = left + Double(i) * slot
            let qh = plotHeight * Double(b.queries) / Double(scale)
            let bh = plotHeight * Double(b.blocked) / Double(scale)
            let start = ConsoleTime.axisLabel(b.startMicros, withDate: true)
            let end = ConsoleTime.axisLabel(b.startMicros + bucketMicros, withDate: withDate)
            out += """
                <g><title>\(start)–\(end) UTC: \(b.queries) queries, \(b.blocked) blocked</title>\
                <rect class="hover" x="\(coordinate: x)" y="\(coordinate: top)" width="\(coordinate: slot)" \
                height="\(coordinate: plotHeight)"/>
                """
            if b.queries > 0 {
                out += """
                    <rect class="q" x="\(coordinate: x)" y="\(coordinate: top + plotHeight - qh)" \
                    width="\(coordinate: max(slot - gap, 0.5))" height="\(coordinate: qh)"/>
                    """
            }
            if b.blocked > 0 {
                // At least one pixel tall, so a single blocked query among thousands still shows.
                let h = max(bh, 1.5)
                out += """
                    <rect class="b" x="\(coordinate: x)" y="\(coordinate: top + plotHeight - h)" \
                    width="\(coordinate: max(slot - gap, 0.5))" height="\(coordinate: h)"/>
                    """
            }
            out += "</g>"
        }
        // About six time labels along the bottom.
        let every = max(1, buckets.count / 6)
        for i in stride(from: 0, to: buckets.count, by: every) {
            let x = left + Double(i) * slot
            // A label starting this close to the right edge would be cut off.
            if x > width - right - 44 { break }
            out += """
                <line class="tick" x1="\(coordinate: x)" y1="\(coordinate: top + plotHeight)" x2="\(coordinate: x)" \
                y2="\(coordinate: top + plotHeight + 4)"/><text class="axis" x="\(coordinate: x)" \
                y="\(coordinate: height - 8)" text-anchor="start">\(ConsoleTime.axisLabel(buckets[i].startMicros, withDate: withDate))</text>
                """
        }
        out += "</svg>"
        return out
    }

    /// A horizontal bar of `value` out of `maximum`, with `blocked` of it drawn in red (for tables).
    static func bar(_ value: Int, of maximum: Int, blocked: Int = 0) -> ConsoleHTML {
        let full = 160.0
        let total = max(maximum, 1)
        let w = full * Double(min(value, total)) / Double(total)
        let bw = full * Double(min(blocked, total)) / Double(total)
        var out: ConsoleHTML = """
            <svg class="bar" viewBox="0 0 160 12" width="160" height="12" aria-hidden="true">\
            <rect class="track" x="0" y="0" width="160" height="12"/>
            """
        if value > 0 { out += "<rect class=\"q\" x=\"0\" y=\"0\" width=\"\(coordinate: max(w, 1))\" height=\"12\"/>" }
        if blocked > 0 { out += "<rect class=\"b\" x=\"0\" y=\"0\" width=\"\(coordinate: max(bw, 1))\" height=\"12\"/>" }
        return out + "</svg>"
    }

    /// The smallest 1, 2 or 5 times a power of ten at or above `value`, so the axis reads in round numbers.
    static func niceCeiling(_ value: Int) -> Int {
        var power = 1
        while true {
            for m in [1, 2, 5] where m * power >= value { return m * power }
            if power > Int.max / 100 { return value }
            power *= 10
        }
    }

    /// `950`, `12k`, `3.4M`: axis numbers that fit in the margin.
    static func compact(_ value: Int) -> String {
        if value < 10_000 { return String(value) }
        if value < 1_000_000 { return "\(value / 1000)k" }
        let tenths = value / 100_000
        return tenths % 10 == 0 ? "\(tenths / 10)M" : "\(tenths / 10).\(tenths % 10)M"
    }
}
