#!/usr/bin/env python3
"""Writes Fixtures/agentos.json: the fixture AgentOS's data. One agency, three contractors written in the
contract's different dialects (v4 names, v3 names, other variants), so that every field name and value
variant of ../shared/agentos-upstream.md appears somewhere. Deterministic: run it again, same file."""
import json, os

agency = "demo"
c1, c2, c3 = "C-1001", "C-2002", "3003"

contractors = {
    c1: {"OID": c1, "CompanyName": "Northern Plumbing Ltd", "DisplayName": "Northern Plumbing", "EmailAddress": "office@northern-plumbing.example",
         "Phone": "0161 496 0000", "Mobile": "07700 900001", "AddressLine1": "1 Canal Street", "AddressLine2": "Ancoats", "AddressLine3": "Manchester",
         "Postcode": "M4 6AA", "VATNumber": "GB123456789", "CompanyRegNumber": "01234567", "IsActive": True, "BranchID": "BR-1",
         "Trades": ["Plumbing", "Heating"], "Rating": 4.8},
    c2: {"ContractorID": c2, "Company": "Spark Electrical", "Name": "Spark Electrical", "EMailAddress": "jobs@spark.example",
         "LandPhone": "0113 496 0000", "MobileNumber": "07700 900002", "Address1": "22 Wellington Road", "Address2": "Leeds",
         "Address3": "Headingley", "Address4": "West Yorkshire", "County": "Yorkshire", "PostCode": "LS1 4AP", "VatRegNo": "GB987654321", "CompanyNumber": "07654321",
         "Active": "Y", "BranchOID": "BR-2", "TradeTypes": "Electrical, PAT testing"},
    c3: {"ID": 3003, "FullName": "Gas Safe Gary", "Email": "gary@gas.example", "PhoneNumber": "0121 496 0000", "WorkPhone": "0121 496 0001",
         "MobilePhone": "07700 900003", "Address": "5 Gas Street, Birmingham B1 2JT", "Status": "Active", "TradeTypes": ["Gas"],
         "VatNumber": None},
}

contacts = {
    c1: {"Count": 2, "Data": [
        {"ContactID": "CT-1", "Name": "Alice North", "EmailAddress": "alice@northern-plumbing.example", "Phone": "0161 496 0002", "Role": "Director", "IsPrimary": True},
        {"OID": "CT-2", "Forename": "Bob", "Surname": "Pipe", "Email": "bob@northern-plumbing.example", "MobileNumber": "07700 900011", "JobTitle": "Engineer", "Primary": 0},
        {"ID": 13, "Name": "Carol Valve", "MobilePhone": "07700 900012", "Role": "Office", "IsPrimary": "false"}]},
    c2: [{"ID": 21, "FullName": "Sam Spark", "EMailAddress": "sam@spark.example", "WorkPhone": "0113 496 0003", "IsPrimary": "Y"},
         {"ContactID": 22, "FullName": "Nia Neutral", "PhoneNumber": "0113 496 0004", "Primary": "N"},
         {"ContactID": 23, "FullName": "Tom True", "LandPhone": "0113 496 0005", "IsPrimary": "true"},
         {"ContactID": 24, "FullName": "Una One", "Mobile": "07700 900024", "Primary": 1}],
    c3: {"Data": []},
}

statuses = ["Open", "In Progress", "Completed", "Awaiting Parts", "Cancelled"]
priorities = ["Low", "Medium", "High"]
jobs = []
for n in range(1, 121):
    j = {"OID": f"J-{n:04d}", "ContractorID": c1, "PropertyID": f"P-{n % 17:03d}", "PropertyAddress": f"{n} High Street, Manchester M1 {n % 9}AB",
         "Title": f"Repair {n}", "Description": f"Job number {n}", "Status": statuses[n % 5], "Priority": priorities[n % 3],
         "ReportedDate": f"2026-03-{(n % 28) + 1:02d}T09:00:00Z", "EstimatedCost": round(50 + n * 1.25, 2), "Category": "Plumbing",
         "TenantName": f"Tenant {n}", "LandlordName": "Lord Landlord", "AccessDetails": "Key with agent"}
    if statuses[n % 5] == "Completed":
        j["CompletedDate"] = f"2026-04-{(n % 28) + 1:02d}T17:30:00Z"
        j["ActualCost"] = f"{60 + n}.50"
    if n % 10 == 0:
        j["MaintenanceNotes"] = [{"OID": f"N-{n}-e", "CreatedAt": "/Date(1774688400000)/", "NoteContents": f"Embedded note for job {n}"}]
    jobs.append(j)
# v3-style jobs of contractor 2, in the {"Jobs": [...]} envelope, with value variants.
jobs += [
    {"JobID": 7001, "AssignedContractorID": c2, "PropertyOID": "P-201", "PropertyAddress1": "9 Park Lane", "PropertyAddress2": "Leeds", "PropertyAddress3": "Hyde Park", "PropertyAddress4": "West Yorkshire", "PropertyPostcode": "LS2 7EY",
     "IssueTitle": "Consumer unit", "IssueFault": "RCD trips", "JobStatus": "Open", "IssuePriority": "High", "Reported": "2026-03-28T09:00:00",
     "Estimate": "£1,234.50", "JobType": "Electrical", "Tenant": "Tina Tenant", "Landlord": "Larry Landlord", "AccessInstructions": "Call first"},
    {"WorksOrderID": "WO-7002", "AssignedTo": c2, "PropertyID": "P-202", "Property": "10 Park Lane, Leeds", "Summary": "Socket", "Details": None,
     "Status": "Completed", "PriorityName": "Low", "DateReported": "28/03/2026", "ClosedDate": "2026-07-01", "QuoteAmount": 80, "Cost": "95.00",
     "InvoiceAmount": None, "Trade": "Electrical", "KeyInfo": "Key safe 1234"},
]
# Contractor 3's jobs come as a bare array; one belongs to contractor 1 on paper (ownership tests).
jobs += [
    {"ID": 9001, "AssignedContractorID": 3003, "PropertyID": 301, "Address": "1 Gas Street, Birmingham", "Subject": "Boiler service",
     "Status": "Completed", "ReportedAt": "/Date(1774688400000)/", "EstimatedCost": "not a number", "DateCompleted": "2026-04-02T16:00:00",
     "InvoiceAmount": "£240.00", "Category": "Gas", "Tenant": "Gail"},
]

notes = {
    "J-0001": [{"NoteID": "N-1", "JobID": "J-0001", "Text": "Arrived on site", "CreatedAt": "2026-03-02T10:00:00Z", "CreatedBy": "Alice North", "Type": "Progress"},
               {"OID": "N-2", "JobID": "J-0001", "Note": "Needs a part", "DateCreated": "2026-03-02T11:00:00", "Author": "Bob Pipe", "NoteType": "Parts"}],
    "7001": [{"ID": 71, "Body": "Booked for Tuesday", "Created": "28/03/2026", "UserName": "sam"}],
}

def entries(prefix, amounts):
    return [{"EntryID": f"{prefix}-{i}", "Date": f"2026-02-{i + 1:02d}", "Description": f"Invoice {i}", "Credit": a, "Debit": 0, "JobID": f"J-{i + 1:04d}",
             "InvoiceNumber": f"INV-{i}"} for i, a in enumerate(amounts)]

statements = {
    c1: {"OpeningBalance": 0, "ClosingBalance": "1,500.00", "TotalDebits": 0, "TotalCredits": 1500.0, "PeriodStart": "2026-02-01", "PeriodEnd": "2026-02-28",
         "Entries": entries("E", [500, "500.00", "£500.00"])},
    c2: {"DateFrom": "01/02/2026", "DateTo": "/Date(1774688400000)/",
         "Transactions": [{"TransactionID": 1, "TransactionDate": "2026-02-03T10:00:00", "Narrative": "Payment", "Amount": "120.10", "WorksOrderID": "WO-7002",
                           "PropertyAddress": "10 Park Lane", "Category": "Electrical", "InvoiceRef": "SPK-1"},
                          {"OID": "T-3", "TransactionDate": "28/02/2026", "Narrative": "Adjustment", "Debit": "5.00", "Credit": None},
                          {"TransactionNumber": "T-2", "Date": "2026-02-04", "Narrative": "Fee", "Amount": -20.05, "InvoiceID": "SPK-2", "Balance": "100.05"}]},
    c3: {"Items": []},
}

pending = {
    c1: {"Count": 10, "Data": [{"OID": f"P-{i}", "Date": "2026-03-01", "Description": f"Pending {i}", "Amount": 0.10, "JobID": f"J-{i + 1:04d}",
                                "Status": "Awaiting payment"} for i in range(10)]},
    c2: [{"EntryID": "P2-1", "TransactionDate": "28/03/2026", "Narrative": "Socket", "Value": "£95.00", "WorksOrderID": "WO-7002", "InvoiceRef": "SPK-3", "PaymentStatus": "Due"}],
    c3: [],
}

# The documented V4 API lists by branch: two branches, jobs of several contractors mixed in one branch's
# list, and contractor 2 working in both.
branches = [{"BranchID": "BR-1", "Name": "Manchester"}, {"BranchID": "BR-2", "Name": "Leeds and Birmingham"}]
contractor_branches = {c1: ["BR-1"], c2: ["BR-1", "BR-2"], c3: ["BR-2"]}
job_branch = {"7001": "BR-1", "WO-7002": "BR-2", "9001": "BR-2"}
for j in jobs:
    key = str(j.get("OID") or j.get("JobID") or j.get("WorksOrderID") or j.get("ID"))
    j["BranchID"] = job_branch.get(key, "BR-1")
# The workflow states of GET /jobs/statusTypes: completion is setting one of them.
status_types = [{"StatusID": i + 1, "Name": name} for i, name in enumerate(
    ["Open", "In Progress", "Awaiting Parts", "Completed", "Cancelled"])]

data = {"apiKey": "fixture-key", "agencies": {agency: {
    "contractors": contractors, "contacts": contacts, "jobs": jobs, "notes": notes, "statements": statements, "pending": pending,
    "jobEnvelopes": {c1: "count-data", c2: "jobs", c3: "bare"},
    "branches": branches, "contractorBranches": contractor_branches, "statusTypes": status_types}}}

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
with open(os.path.join(root, "Fixtures", "agentos.json"), "w") as f:
    json.dump(data, f, indent=1, ensure_ascii=False)
    f.write("\n")
