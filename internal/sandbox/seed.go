package sandbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
)

// DefaultSeedContacts is the number of generated contacts Open seeds when
// Options.Seed is set and Options.SeedContacts is 0.
const DefaultSeedContacts = 300

// DemoRecord is one seeded record that holds a demo number.
type DemoRecord struct {
	Entity string // logical name: contact, account, lead
	ID     string
	Name   string // fullname or name
	Column string // the phone column holding the number
	Stored string // the text exactly as stored in Column
}

// DemoNumber is a phone number the seeded data holds on purpose, for the
// demo and the end-to-end tests. E164 is the number as the telephony
// platform presents it; Records are every record holding it (in any
// format), so len(Records) is the number of matches a correct search
// finds.
type DemoNumber struct {
	Key     string
	Purpose string
	E164    string
	Records []DemoRecord
}

// DemoNumbers are the seeded records the end-to-end tests rely on. No
// generated record shares a number with them: generated numbers come from
// the ranges set aside for fiction (AU 0x 5550 xxxx and 0491 57x xxx, UK
// 020 7946 0xxx and 07700 900xxx, US 555-01xx), and the demo numbers use
// 9999 ranges or are excluded from generation.
var DemoNumbers = []DemoNumber{
	{
		Key: "single-contact", Purpose: "Exactly one contact, stored in Australian national format (the format libphonenumber calls NATIONAL).",
		E164:    "+61299990000",
		Records: []DemoRecord{{"contact", demoID("contact", 1), "Olivia Bennett", "telephone1", "(02) 9999 0000"}},
	},
	{
		Key: "single-contact-international", Purpose: "Exactly one contact, stored in international format with spaces.",
		E164:    "+61299990001",
		Records: []DemoRecord{{"contact", demoID("contact", 2), "Liam Horvath", "telephone1", "+61 2 9999 0001"}},
	},
	{
		Key: "single-contact-e164", Purpose: "Exactly one contact, stored in E.164.",
		E164:    "+61299990002",
		Records: []DemoRecord{{"contact", demoID("contact", 3), "Mia Castellano", "telephone1", "+61299990002"}},
	},
	{
		Key: "single-contact-digits", Purpose: "Exactly one contact, stored as national digits without spaces.",
		E164:    "+61299990003",
		Records: []DemoRecord{{"contact", demoID("contact", 4), "Noah Fitzgerald", "telephone1", "0299990003"}},
	},
	{
		Key: "single-contact-country-digits", Purpose: "Exactly one contact, stored as country code and digits without a plus.",
		E164:    "+61299990004",
		Records: []DemoRecord{{"contact", demoID("contact", 5), "Ava Lindqvist", "telephone1", "61299990004"}},
	},
	{
		Key: "several-contacts", Purpose: "Three contacts of one household share a landline, stored identically: the search page opens instead of a record.",
		E164: "+61299990010",
		Records: []DemoRecord{
			{"contact", demoID("contact", 10), "Grace Whitfield", "telephone1", "(02) 9999 0010"},
			{"contact", demoID("contact", 11), "Henry Whitfield", "telephone1", "(02) 9999 0010"},
			{"contact", demoID("contact", 12), "Isla Whitfield", "telephone1", "(02) 9999 0010"},
		},
	},
	{
		Key: "no-match", Purpose: "No record holds this number in any format: the new-record form opens.",
		E164: "+61299990099",
	},
	{
		Key: "account-match", Purpose: "One account and no contact hold this number.",
		E164:    "+61299990020",
		Records: []DemoRecord{{"account", demoID("account", 20), "Harbour Freight Logistics", "telephone1", "(02) 9999 0020"}},
	},
	{
		Key: "lead-match", Purpose: "One lead holds this number (the preview-dial lead); no contact or account does.",
		E164:    "+61399990030",
		Records: []DemoRecord{{"lead", demoID("lead", 30), "Priya Raman", "telephone1", "(03) 9999 0030"}},
	},
	{
		Key: "mobile-contact", Purpose: "One contact holds this number in mobilephone only, so a telephone1-only search misses it.",
		E164:    "+61412999040",
		Records: []DemoRecord{{"contact", demoID("contact", 40), "Ethan Kowalski", "mobilephone", "0412 999 040"}},
	},
	{
		Key: "do-not-phone", Purpose: "One contact that asked not to be phoned (donotphone true).",
		E164:    "+61299990050",
		Records: []DemoRecord{{"contact", demoID("contact", 50), "Chloe Marchetti", "telephone1", "(02) 9999 0050"}},
	},
	{
		Key: "apostrophe-contact", Purpose: "One contact whose name has an apostrophe and an accent (O'Brien, Siobhán), for quoting and encoding.",
		E164:    "+61299990060",
		Records: []DemoRecord{{"contact", demoID("contact", 60), "Siobhán O'Brien", "telephone1", "(02) 9999 0060"}},
	},
	{
		Key: "uk-contact", Purpose: "One British contact, stored in international format.",
		E164:    "+442079460018",
		Records: []DemoRecord{{"contact", demoID("contact", 70), "Oliver Pemberton", "telephone1", "+44 20 7946 0018"}},
	},
	{
		Key: "us-contact", Purpose: "One American contact, stored in US national format.",
		E164:    "+12025550143",
		Records: []DemoRecord{{"contact", demoID("contact", 80), "Madison Carter", "telephone1", "(202) 555-0143"}},
	},
}

// DemoNumberByKey returns the demo number with the given key; it panics on an
// unknown key, which is a mistake in a test.
func DemoNumberByKey(key string) DemoNumber {
	for _, d := range DemoNumbers {
		if d.Key == key {
			return d
		}
	}
	panic(fmt.Sprintf("sandbox: no demo number %q", key))
}

// DemoAgent is a seeded systemuser standing for a contact-centre agent,
// for impersonation (MSCRMCallerID / CallerObjectId) in the demo and tests.
type DemoAgent struct {
	SystemUserID string
	ObjectID     string // Entra ID object id (azureactivedirectoryobjectid)
	FirstName    string
	LastName     string
	Email        string
}

// DemoAgents exist in every sandbox, seeded or not.
var DemoAgents = []DemoAgent{
	{demoID("systemuser", 1), derivedGUID("agent-oid-1"), "Alex", "Nguyen", "alex.nguyen@sandbox.local"},
	{demoID("systemuser", 2), derivedGUID("agent-oid-2"), "Sam", "Taylor", "sam.taylor@sandbox.local"},
	{demoID("systemuser", 3), derivedGUID("agent-oid-3"), "Jordan", "Okafor", "jordan.okafor@sandbox.local"},
}

func demoID(entity string, n int) string { return derivedGUID(fmt.Sprintf("demo:%s:%d", entity, n)) }

// demo records that are not phone matches but give the known contacts
// some realism.
var demoAccount = demoID("account", 1)

// Seed writes the demo data: the DemoNumbers records and n generated
// contacts with about n/4 accounts and n/3 leads, from a fixed
// pseudo-random sequence so that every seed holds the same data. Records
// that already exist are left alone, so Seed may run again.
func (s *Sandbox) Seed(ctx context.Context, n int) error {
	if n < 0 {
		return fmt.Errorf("sandbox seed: n is %d; use 0 or more", n)
	}
	plan := seedPlan(n)
	err := s.inTx(ctx, func(db dbConn) error {
		for _, sr := range plan {
			t := s.sch().table(sr.entity)
			existing, err := s.getByID(ctx, db, t, sr.values[t.key].(string))
			if err != nil {
				return err
			}
			if existing != nil {
				continue
			}
			ch := &change{values: map[string]any{}, binds: map[string]bindRef{}}
			for k, v := range sr.values {
				ch.values[k] = v
			}
			if sr.parent != "" {
				ch.binds["parentcustomerid"] = bindRef{target: s.sch().table("account"), id: sr.parent}
			}
			if _, err := s.create(ctx, db, t, ch, actor{user: sr.owner}, "", ""); err != nil {
				return fmt.Errorf("seeding %s %v: %w", sr.entity, sr.values[t.key], err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sandbox seed: %w", err)
	}
	return nil
}

// seedRecord is one record the seed writes.
type seedRecord struct {
	entity string
	values map[string]any
	parent string // accountid for a contact's parentcustomerid
	owner  string
}

func seedPlan(n int) []seedRecord {
	rng := rand.New(rand.NewPCG(20240611, 7))
	used := map[string]bool{}
	for _, d := range DemoNumbers {
		used[d.E164] = true
	}
	owner := func() string { return DemoAgents[rng.IntN(len(DemoAgents))].SystemUserID }
	var plan []seedRecord

	// The known records first, with fixed ids.
	plan = append(plan, seedRecord{entity: "account", owner: DemoAgents[0].SystemUserID, values: map[string]any{
		"accountid": demoAccount, "name": "Bennett & Co Accountants", "telephone1": "(02) 9999 0900", "emailaddress1": "office@bennettco.example",
	}})
	used["+61299990900"] = true
	for _, d := range DemoNumbers {
		for _, r := range d.Records {
			v := map[string]any{r.Column: r.Stored}
			switch r.Entity {
			case "contact":
				first, last, _ := strings.Cut(r.Name, " ")
				v["contactid"], v["firstname"], v["lastname"] = r.ID, first, last
				v["emailaddress1"] = emailFor(first, last, "example.com")
			case "account":
				v["accountid"], v["name"] = r.ID, r.Name
			case "lead":
				first, last, _ := strings.Cut(r.Name, " ")
				v["leadid"], v["firstname"], v["lastname"] = r.ID, first, last
				v["companyname"], v["subject"] = "Raman Design Studio", "Interested in a callback about pricing"
			}
			if d.Key == "do-not-phone" {
				v["donotphone"] = true
			}
			sr := seedRecord{entity: r.Entity, values: v, owner: DemoAgents[0].SystemUserID}
			if d.Key == "single-contact" {
				sr.parent = demoAccount
				v["jobtitle"] = "Practice Manager"
			}
			plan = append(plan, sr)
		}
	}

	accounts := make([]string, 0, n/4)
	for i := 0; i < n/4; i++ {
		region := pickRegion(rng)
		id := randomGUID(rng)
		accounts = append(accounts, id)
		name := companyName(rng)
		v := map[string]any{"accountid": id, "name": name, "emailaddress1": "hello@" + domainFor(name)}
		if num, ok := uniqueNumber(rng, region, false, used); ok {
			v["telephone1"] = num
		}
		plan = append(plan, seedRecord{entity: "account", values: v, owner: owner()})
	}
	for i := 0; i < n; i++ {
		region := pickRegion(rng)
		first, last := personName(rng, region)
		v := map[string]any{"contactid": randomGUID(rng), "firstname": first, "lastname": last}
		if rng.Float64() < 0.85 {
			if num, ok := uniqueNumber(rng, region, false, used); ok {
				v["telephone1"] = num
			}
		}
		if rng.Float64() < 0.6 {
			if num, ok := uniqueNumber(rng, region, true, used); ok {
				v["mobilephone"] = num
			}
		}
		if rng.Float64() < 0.1 {
			if num, ok := uniqueNumber(rng, region, false, used); ok {
				v["telephone2"] = num
			}
		}
		if rng.Float64() < 0.8 {
			v["emailaddress1"] = emailFor(first, last, []string{"example.com", "example.net", "example.org"}[rng.IntN(3)])
		}
		if rng.Float64() < 0.05 {
			v["donotphone"] = true
		}
		if rng.Float64() < 0.3 {
			v["jobtitle"] = jobTitles[rng.IntN(len(jobTitles))]
		}
		sr := seedRecord{entity: "contact", values: v, owner: owner()}
		if len(accounts) > 0 && rng.Float64() < 0.5 {
			sr.parent = accounts[rng.IntN(len(accounts))]
		}
		plan = append(plan, sr)
	}
	for i := 0; i < n/3; i++ {
		region := pickRegion(rng)
		first, last := personName(rng, region)
		v := map[string]any{
			"leadid": randomGUID(rng), "firstname": first, "lastname": last,
			"companyname": companyName(rng), "subject": leadSubjects[rng.IntN(len(leadSubjects))],
		}
		if num, ok := uniqueNumber(rng, region, rng.Float64() < 0.4, used); ok {
			v["telephone1"] = num
		}
		if rng.Float64() < 0.5 {
			if num, ok := uniqueNumber(rng, region, true, used); ok {
				v["mobilephone"] = num
			}
		}
		plan = append(plan, seedRecord{entity: "lead", values: v, owner: owner()})
	}
	return plan
}

func randomGUID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

type region int

const (
	regionAU region = iota
	regionUK
	regionUS
)

func pickRegion(rng *rand.Rand) region {
	switch x := rng.Float64(); {
	case x < 0.6:
		return regionAU
	case x < 0.85:
		return regionUK
	}
	return regionUS
}

// uniqueNumber draws a number no other seeded record holds and writes it
// in one of the ways CRMs hold numbers for that country.
func uniqueNumber(rng *rand.Rand, r region, mobile bool, used map[string]bool) (string, bool) {
	for range 50 {
		e164, text := drawNumber(rng, r, mobile)
		if used[e164] {
			continue
		}
		used[e164] = true
		return text, true
	}
	return "", false
}

func drawNumber(rng *rand.Rand, r region, mobile bool) (e164, text string) {
	d := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		return b.String()
	}
	pick := func(formats []string) string { return formats[rng.IntN(len(formats))] }
	switch r {
	case regionAU:
		if mobile {
			x := fmt.Sprint(rng.IntN(10))
			rest := d(3)
			e164 = "+6149157" + x + rest
			text = pick([]string{
				"0491 57" + x + " " + rest, "0491-57" + x + "-" + rest, "049157" + x + rest,
				"+61 491 57" + x + " " + rest, "+61491 57" + x + rest, "61 491 57" + x + " " + rest,
			})
			return
		}
		area := []string{"2", "3", "7", "8"}[rng.IntN(4)]
		line := d(4)
		e164 = "+61" + area + "5550" + line
		text = pick([]string{
			"(0" + area + ") 5550 " + line, "0" + area + " 5550 " + line, "0" + area + "5550" + line,
			"+61 " + area + " 5550 " + line, "+61" + area + "5550" + line, "61" + area + "5550" + line,
			"+61 (0)" + area + " 5550 " + line, "(0" + area + ")5550-" + line,
		})
		return
	case regionUK:
		if mobile {
			line := d(3)
			e164 = "+447700900" + line
			text = pick([]string{"07700 900" + line, "+44 7700 900" + line, "07700900" + line, "+44 (0)7700 900 " + line, "447700900" + line})
			return
		}
		line := d(3)
		e164 = "+442079460" + line
		text = pick([]string{
			"+44 20 7946 0" + line, "020 7946 0" + line, "(020) 7946 0" + line,
			"+44 (0)20 7946 0" + line, "02079460" + line, "442079460" + line,
		})
		return
	}
	area := []string{"202", "212", "312", "415", "617", "713"}[rng.IntN(6)]
	line := fmt.Sprintf("01%02d", rng.IntN(100))
	e164 = "+1" + area + "555" + line
	text = pick([]string{
		"(" + area + ") 555-" + line, area + "-555-" + line, "+1 " + area + "-555-" + line,
		"+1 (" + area + ") 555-" + line, area + "555" + line, "+1" + area + "555" + line, "1-" + area + "-555-" + line,
		area + ".555." + line,
	})
	return
}

var firstNames = map[region][]string{
	regionAU: {"Jack", "Charlotte", "William", "Amelia", "Lachlan", "Matilda", "Harrison", "Zara", "Cooper", "Isabella", "Lucas", "Sienna", "Hamish", "Ruby", "Archie", "Evie", "Mitchell", "Tahlia", "Bailey", "Jasmine"},
	regionUK: {"Harry", "Sophie", "George", "Emily", "Alfie", "Poppy", "Rhys", "Freya", "Callum", "Imogen", "Arthur", "Niamh", "Theo", "Ellie", "Finley", "Aoife"},
	regionUS: {"Ethan", "Madison", "Mason", "Abigail", "Logan", "Avery", "Carter", "Harper", "Jayden", "Brooklyn", "Tyler", "Savannah", "Hunter", "Kayla"},
}

var lastNames = map[region][]string{
	regionAU: {"Smith", "Nguyen", "Williams", "Brown", "Wilson", "Taylor", "Kelly", "Papadopoulos", "Singh", "Anderson", "Murphy", "Tran", "Russo", "Campbell", "Chen", "Walker", "O'Connor", "Nikolic"},
	regionUK: {"Jones", "Davies", "Evans", "Thomas", "Roberts", "Hughes", "Patel", "Clarke", "Wright", "Khan", "Lewis", "McAllister", "Ó Ceallaigh", "Ahmed"},
	regionUS: {"Johnson", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Jackson", "Lee", "Thompson", "Ramirez"},
}

func personName(rng *rand.Rand, r region) (string, string) {
	f := firstNames[r]
	l := lastNames[r]
	return f[rng.IntN(len(f))], l[rng.IntN(len(l))]
}

var companyWords = []string{"Southern", "Harbour", "Coastal", "Summit", "Redgum", "Ironbark", "Bluewater", "Northgate", "Kestrel", "Meridian", "Wattle", "Thames", "Pennine", "Lakeside", "Granite", "Pioneer"}
var companyKinds = []string{"Plumbing", "Logistics", "Dental", "Constructions", "Accounting", "Motors", "Veterinary Clinic", "Solar", "Removals", "Print Works", "Hardware", "Legal", "Catering", "Pharmacy"}
var companySuffixes = []string{"Pty Ltd", "Ltd", "LLC", "Inc.", "& Sons", "Group", ""}

func companyName(rng *rand.Rand) string {
	name := companyWords[rng.IntN(len(companyWords))] + " " + companyKinds[rng.IntN(len(companyKinds))]
	if sfx := companySuffixes[rng.IntN(len(companySuffixes))]; sfx != "" {
		name += " " + sfx
	}
	return name
}

var jobTitles = []string{"Office Manager", "Director", "Accounts Payable", "Operations Lead", "Owner", "Receptionist", "Procurement Officer"}

var leadSubjects = []string{
	"Enquiry about annual service plan", "Requested a quote online", "Trade show contact",
	"Referral from existing customer", "Callback requested after webinar", "Downloaded pricing guide",
}

func emailFor(first, last, domain string) string {
	clean := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToLower(s) {
			if r >= 'a' && r <= 'z' {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	return clean(first) + "." + clean(last) + "@" + domain
}

func domainFor(company string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(company) {
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String() + ".example"
}
