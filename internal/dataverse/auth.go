package dataverse

import (
	"context"
	"errors"
	"net/http"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenCache holds the current access token and fetches a new one when it
// is missing, expired (oauth2's 10 s early-expiry margin applies) or was
// refused by Dataverse.
//
// It is oauth2.ReuseTokenSource's job done by hand, for two reasons:
// ReuseTokenSource binds the context it was built with, so a token fetch
// could not be cancelled by the caller waiting on it; and it cannot be told
// to drop a token Dataverse answered 401 to.
type tokenCache struct {
	cfg        clientcredentials.Config
	httpClient *http.Client
	// lock is a one-slot channel rather than a mutex so that callers queued
	// behind a slow token fetch can give up when their context ends.
	lock  chan struct{}
	token *oauth2.Token
	// observe reports each token request to the client's stats and hook.
	observe func(status int, d time.Duration, err error)
}

func newTokenCache(s settings, clientID, clientSecret string, observe func(int, time.Duration, error)) *tokenCache {
	return &tokenCache{
		cfg: clientcredentials.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			TokenURL:     s.tokenURL,
			Scopes:       []string{s.scope},
			// Entra ID documents client_secret in the form body; sending it
			// there also spares a failed first try with Basic auth.
			AuthStyle: oauth2.AuthStyleInParams,
		},
		httpClient: s.httpClient,
		lock:       make(chan struct{}, 1),
		observe:    observe,
	}
}

// get returns a valid token, fetching one if needed. Concurrent callers
// share one fetch.
func (t *tokenCache) get(ctx context.Context) (*oauth2.Token, error) {
	select {
	case t.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-t.lock }()
	if t.token.Valid() {
		return t.token, nil
	}
	start := time.Now()
	tok, err := t.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, t.httpClient))
	status := http.StatusOK
	if err != nil {
		status = 0
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			status = re.Response.StatusCode
		}
	}
	t.observe(status, time.Since(start), err)
	if err != nil {
		return nil, err
	}
	t.token = tok
	return tok, nil
}

// invalidate drops used if it is still the cached token, so the next get
// fetches a new one. Comparing with the token that was refused keeps a burst
// of 401s from triggering one fetch each. If ctx ends while another caller
// is fetching, nothing is dropped: that fetch brings a new token anyway.
func (t *tokenCache) invalidate(ctx context.Context, used *oauth2.Token) {
	select {
	case t.lock <- struct{}{}:
	case <-ctx.Done():
		return
	}
	if t.token == used {
		t.token = nil
	}
	<-t.lock
}

// tokenError turns a token fetch failure into an *Error. The secret never
// appears: it travels in the request body, and the oauth2 error holds only
// the endpoint's answer.
func tokenError(op, tokenURL string, err error, now time.Time) *Error {
	e := &Error{Op: op, Method: http.MethodPost, URL: tokenURL, token: true}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil {
			e.Status = re.Response.StatusCode
			e.RetryAfter = parseRetryAfter(re.Response.Header.Get("Retry-After"), now)
		}
		e.Code = re.ErrorCode
		e.Message = re.ErrorDescription
		if e.Code == "" && e.Message == "" {
			e.Message = truncate(string(re.Body), maxErrorMessage)
		}
		return e
	}
	e.Err = err
	return e
}
