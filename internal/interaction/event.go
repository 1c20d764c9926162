// Package interaction is the telephony event model and the call lifecycle.
//
// Events follow ipSCAPE's integration events (onPreviewAllocated,
// onCallStarted, onCallHangup, onCallWrapped, ...) and carry the interaction
// object the ipSCAPE config paths read: interaction.activity.customerCli,
// interaction.activity.sourcePhoneNumber, interaction.leadData.phones[].
package interaction

import "time"

// CallType is the ipSCAPE call subtype screen-pop rules select on.
type CallType string

// The call types of the reference config.
const (
	CallManual   CallType = "manual"
	CallInbound  CallType = "inbound"
	CallOutbound CallType = "outbound"
	CallPreview  CallType = "preview"
)

// CallTypes lists every call type, in the order documentation shows them.
var CallTypes = []CallType{CallManual, CallInbound, CallPreview, CallOutbound}

// EventType names a telephony event, after ipSCAPE's SDK event names.
type EventType string

// Event types.
const (
	// PreviewAllocated: a preview lead is presented to the agent; no call yet.
	PreviewAllocated EventType = "previewAllocated"
	// CallAlerting: a call is ringing at the agent (inbound) or dialling (outbound).
	CallAlerting EventType = "callAlerting"
	// CallStarted: the call is connected.
	CallStarted EventType = "callStarted"
	// CallFailed: the call ended without connecting (no answer, busy, ...).
	CallFailed EventType = "callFailed"
	// CallHangup: a connected call ended; the agent is now in wrap.
	CallHangup EventType = "callHangup"
	// CallWrapped: the agent wrapped the interaction with a wrap code.
	CallWrapped EventType = "callWrapped"
)

// Event is one telephony event about one interaction.
type Event struct {
	// ID identifies the event itself; a repeated ID is a duplicate delivery.
	ID   string    `json:"id"`
	Type EventType `json:"type"`
	// Time is when the telephony platform saw the event.
	Time    time.Time `json:"timestamp"`
	AgentID string    `json:"agentId"`
	// Interaction is the call's data; its fields are also reachable by
	// config paths through Document.
	Interaction Interaction `json:"interaction"`
	// Document is the whole event as decoded JSON (map[string]any), the root
	// config paths such as "interaction.activity.customerCli" resolve from.
	Document map[string]any `json:"-"`
}

// Interaction is the telephony interaction (one call or preview) an event is about.
type Interaction struct {
	// AgentInteractionID is the telephony platform's id for the interaction;
	// it is written to fields.agentInteractionId and makes CRM writes idempotent.
	AgentInteractionID string   `json:"agentInteractionId"`
	CallType           CallType `json:"callType"`
	Activity           Activity `json:"activity"`
	LeadData           *Lead    `json:"leadData,omitempty"`
}

// Activity is ipSCAPE's activity data for the call.
type Activity struct {
	ActivityID string `json:"activityId,omitempty"`
	// CustomerCLI is the customer's number: the caller for inbound calls, the
	// dialled number for outbound ones.
	CustomerCLI string `json:"customerCli,omitempty"`
	// SourcePhoneNumber and DestinationPhoneNumber are the call's ends.
	SourcePhoneNumber      string `json:"sourcePhoneNumber,omitempty"`
	DestinationPhoneNumber string `json:"destinationPhoneNumber,omitempty"`
	CampaignID             string `json:"campaignId,omitempty"`
	CampaignName           string `json:"campaignName,omitempty"`
	QueueName              string `json:"queueName,omitempty"`
	// WrapCode and WrapDescription are set on CallWrapped.
	WrapCode        string `json:"wrapCode,omitempty"`
	WrapDescription string `json:"wrapDescription,omitempty"`
	// Notes are the agent's notes, written to the activity's description.
	Notes string `json:"notes,omitempty"`
}

// Lead is the campaign lead of an outbound or preview call.
type Lead struct {
	LeadID string      `json:"leadId,omitempty"`
	Name   string      `json:"name,omitempty"`
	Phones []LeadPhone `json:"phones,omitempty"`
	// PhoneIndex is the 1-based index of the phone being dialled.
	PhoneIndex int `json:"phoneIndex,omitempty"`
}

// LeadPhone is one of a lead's numbers.
type LeadPhone struct {
	Index int    `json:"index"`
	Phone string `json:"phone"`
	Type  string `json:"type,omitempty"`
}
