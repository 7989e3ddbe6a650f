package devweb

import "testing"

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.1": true, "[::1]:8080": true, "localhost:1234": true, "LOCALHOST": true,
		"127.1.2.3:80": true, "evil.example:8080": false, "evil.example": false, "10.0.0.1:8080": false,
		"localhost.evil.example:8080": false, "": false,
	} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
