// QueryStore module
