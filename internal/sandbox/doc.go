// Package sandbox is an embedded Dataverse-compatible CRM: an HTTP server
// for the subset of the Dataverse Web API v9.2 that ctibridge uses, stored
// in SQLite. The demo and the end-to-end tests run against it, and the
// production Web API client is tested against it over real HTTP, so it
// answers as Dataverse documents: the same URLs, status codes, headers,
// error codes and messages, ETags, paging cookies and $batch layout.
//
// It serves contacts, accounts, leads, phonecalls, tasks, activityparties
// and systemusers; $select, $filter (through odata.ParseFilter, translated
// to parameterised SQL), $orderby, $top, $count, one level of $expand and
// paging; create, update, upsert (also by alternate key) with If-Match and
// If-None-Match; @odata.bind and deep-inserted activity parties; activity
// state rules; $batch with atomic change sets; an OAuth2 client-credentials
// token endpoint; impersonation; injected faults and request counters. See
// docs/sandbox.md for what is supported and how it compares with Dataverse.
package sandbox
