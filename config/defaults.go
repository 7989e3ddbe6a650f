package config

import "time"

// Defaults that the contract names.
const (
	DefaultListen         = ":8080"
	DefaultDatabase       = "followthrough.db"
	DefaultGitHubAPIURL   = "https://api.github.com/"
	DefaultWriteInterval  = time.Second
	DefaultWritesPerHour  = 500
	DefaultSearchLag      = 30 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	DefaultReconcile      = 5 * time.Minute
	DefaultScanEvery      = time.Hour
	DefaultOverdueGrace   = 24 * time.Hour
)

const day = 24 * time.Hour

// Default is a configuration with every default and no tracker, no credentials and no routes:
// the starting point of `serve --dev`, which adds its own stand-in trackers.
func Default() *Config {
	return &Config{
		Listen:   DefaultListen,
		Database: DefaultDatabase,
		Reconcile: Reconcile{
			Every: DefaultReconcile,
		},
		Stall: Stall{
			ScanEvery:    DefaultScanEvery,
			OverdueGrace: DefaultOverdueGrace,
			InactiveAfter: map[string]time.Duration{
				"P0": 7 * day, "P1": 14 * day, "P2": 30 * day, "P3": 60 * day,
			},
			DefaultDue: map[string]time.Duration{
				"P0": 28 * day, "P1": 28 * day, "P2": 56 * day, "P3": 56 * day,
			},
		},
	}
}

// DefaultGitHub is a github section with its defaults and no credentials.
func DefaultGitHub() *GitHub {
	return &GitHub{
		APIURL:         DefaultGitHubAPIURL,
		WriteInterval:  DefaultWriteInterval,
		RequestTimeout: DefaultRequestTimeout,
		WritesPerHour:  DefaultWritesPerHour,
	}
}

// DefaultJira is a jira section with its defaults and no URL or credentials. Deployment stays
// empty: Validate derives it from the URL.
func DefaultJira() *Jira {
	return &Jira{SearchLag: DefaultSearchLag, RequestTimeout: DefaultRequestTimeout}
}
