// Package odata compiles the screen-pop query templates of the config and
// parses OData query strings.
//
// A template such as
//
//	?$select=fullname,telephone1&$filter=telephone1 eq '{{telephone1}}'&$search={{telephone1}}
//
// is filled at every call with values taken from the telephony event. Those
// values (a caller ID above all) are attacker-controlled, so this package is
// the adapter's injection boundary: ParseTemplate only accepts placeholders
// where a value cannot change the query's meaning (inside a $filter string
// literal, or as a whole $search term), Template.Render escapes each value
// for its context, and then re-reads the rendered query to prove it still
// has the template's structure before anyone sends it.
//
// ParseFilter and ParseQuery are also what the sandbox CRM uses to read the
// queries it serves, so both sides agree on one grammar.
package odata
