package test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, which .ci/run installs; "" when there is none.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// TestDevModeInBrowser is the newcomer's first minute, in headless Chromium: on dev mode's
// status page, follow an item's ticket link to the stand-in's page, click "Close as done",
// and see the item done on the status page.
func TestDevModeInBrowser(t *testing.T) {
	chromium := chromiumPath()
	if chromium == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed, and CI must run the browser test: .ci/run installs Debian's chromium")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium); CI installs it and fails without it")
	}
	d := startDev(t)
	it := d.waitItem("PM-2026-042", "AI-2", "linked", func(string, devItem) bool { return true })

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	const (
		ticketLink  = chromedp.CSS(`#item-AI-2 a[rel~="noreferrer"]`)
		closeAsDone = chromedp.Search(`//button[normalize-space()="Close as done"]`)
		reopen      = chromedp.Search(`//button[normalize-space()="Reopen"]`)
	)
	statusPage := d.base + "/postmortems/PM-2026-042"
	if err := chromedp.Do(ctx, chromedp.Navigate(statusPage), chromedp.WaitVisible(ticketLink)); err != nil {
		t.Fatalf("status page: %v", err)
	}
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(ticketLink, "href"))
	if err != nil || href.Value != it.Ticket.URL {
		t.Fatalf("the status page links %q (%v), want the ticket %q", href.Value, err, it.Ticket.URL)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(ticketLink),
		chromedp.WaitVisible(closeAsDone),
		chromedp.Click(closeAsDone),
		// The stand-in sends the browser back to the ticket, now closed.
		chromedp.WaitVisible(reopen),
	); err != nil {
		t.Fatalf("ticket page %s: %v", it.Ticket.URL, err)
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := chromedp.Do(ctx, chromedp.Navigate(statusPage)); err != nil {
			t.Fatalf("status page: %v", err)
		}
		status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#item-AI-2 .status`)))
		if err != nil {
			t.Fatalf("status page: %v", err)
		}
		if status == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("AI-2 is %q on the status page 20s after the click, want done", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The API agrees with the page.
	if code, body := d.do(http.MethodGet, "/v1/postmortems/PM-2026-042", d.token, nil); code != http.StatusOK {
		t.Fatalf("GET PM-2026-042 = %d: %s", code, body)
	}
	if _, items := d.postmortem("PM-2026-042"); items["AI-2"].Status != "done" {
		t.Errorf("the API shows AI-2 %q", items["AI-2"].Status)
	}
}
