#!/usr/bin/env python3
"""Writes a fixture AgentOS agency for bench/budget.sh: N contractors over BRANCHES branches of
JOBS_PER_BRANCH jobs each (the issue's run: 5 branches of 2,000). Contractor c belongs to branch c % B and,
every third one, to the next branch as well, so branch job lists mix contractors of several branches.
Jobs are dealt to contractors in turn within each branch; every fifth job has its notes embedded, the rest
a notes list. Each contractor has an account, a contact, 5 pending entries and a statement.
usage: bench/make-agency.py N OUT.json [BRANCHES] [JOBS_PER_BRANCH]"""
import json, sys

n, out = int(sys.argv[1]), sys.argv[2]
branches_n = int(sys.argv[3]) if len(sys.argv) > 3 else 5
per_branch = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
branches = [{"BranchID": f"BR-{b + 1}", "Name": f"Branch {b + 1}"} for b in range(branches_n)]
contractors, contacts, memberships, statements, pending = {}, {}, {}, {}, {}
for c in range(1, n + 1):
    cid = f"C-{c:04d}"
    home = c % branches_n
    memberships[cid] = [f"BR-{home + 1}"] + ([f"BR-{(home + 1) % branches_n + 1}"] if c % 3 == 0 and branches_n > 1 else [])
    contractors[cid] = {"OID": cid, "CompanyName": f"Trade {c} Ltd", "EmailAddress": f"office{c}@trade.example", "IsActive": True,
                        "BranchID": memberships[cid][0]}
    contacts[cid] = {"Count": 1, "Data": [{"ContactID": f"CT-{c}", "Name": f"Contact {c}", "IsPrimary": True}]}
    pending[cid] = {"Count": 5, "Data": [{"OID": f"PE-{c}-{k}", "Date": "2026-05-03", "Description": "Call-out", "Amount": "45.10",
                                          "JobID": "", "Status": "Pending"} for k in range(5)]}
    statements[cid] = {"StatementID": f"ST-{c}", "TotalEarned": "1500.00", "Entries": []}
members = {b["BranchID"]: [cid for cid, bs in memberships.items() if b["BranchID"] in bs] for b in branches}
jobs, notes = [], {}
for b in branches:
    branch = b["BranchID"]
    people = members[branch] or list(contractors)[:1]
    for j in range(per_branch):
        owner = people[j % len(people)]
        jid = f"J-{branch}-{j:05d}"
        job = {"OID": jid, "ContractorID": owner, "BranchID": branch, "Title": f"Job {j}", "Status": ["Open", "In Progress", "Completed"][j % 3],
               "Priority": ["High", "Medium", "Low"][j % 3], "ReportedDate": "2026-11-20T09:00:00Z", "EstimatedCost": "120.50"}
        note = {"OID": f"N-{jid}", "Text": f"Note on {jid}", "Author": "Agency", "CreatedAt": "2026-11-21T10:00:00Z"}
        if j % 5 == 0:
            job["MaintenanceNotes"] = [note]
        else:
            notes[jid] = [note]
        jobs.append(job)
status_types = [{"StatusID": 1, "Name": "Open"}, {"StatusID": 2, "Name": "In Progress"}, {"StatusID": 4, "Name": "Completed"},
                {"StatusID": 5, "Name": "Cancelled"}]
agency = {"contractors": contractors, "contacts": contacts, "jobs": jobs, "notes": notes, "statements": statements, "pending": pending,
          "jobEnvelopes": {cid: "count-data" for cid in contractors}, "branches": branches, "contractorBranches": memberships,
          "statusTypes": status_types}
with open(out, "w") as f:
    json.dump({"apiKey": "fixture-key", "agencies": {"demo": agency}}, f)
