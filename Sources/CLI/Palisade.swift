@main
struct PalisadeMain {
    static func main() async throws {}
}
