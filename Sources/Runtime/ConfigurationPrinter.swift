import Foundation
import Yams

/// Prints a configuration as YAML.
public enum ConfigurationPrinter {
    /// The configuration as YAML text.
    public static func yaml(_ config: PalisadeConfiguration) throws -> String {
        try YAMLEncoder().encode(config)
    }
}
