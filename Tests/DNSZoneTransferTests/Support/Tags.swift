import Testing

extension Tag {
    /// Tests that open real sockets on 127.0.0.1 or start daemons.
    @Tag static var integration: Self
}
