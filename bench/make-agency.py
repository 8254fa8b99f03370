#!/usr/bin/env python3
"""Writes a fixture AgentOS agency of N contractors for bench/budget.sh: each with an account, contacts,
30 jobs (every fifth with embedded notes, the rest with a notes list), 5 pending entries and a statement.
usage: bench/make-agency.py N OUT.json"""
import json, sys

n, out = int(sys.argv[1]), sys.argv[2]
contractors, contacts, jobs, notes, statements, pending = {}, {}, [], {}, {}, {}
for c in range(1, n + 1):
    cid = f"C-{c:04d}"
    contractors[cid] = {"OID": cid, "CompanyName": f"Trade {c} Ltd", "EmailAddress": f"office{c}@trade.example", "IsActive": True}
    contacts[cid] = {"Count": 1, "Data": [{"ContactID": f"CT-{c}", "Name": f"Contact {c}", "IsPrimary": True}]}
    for j in range(1, 31):
        jid = f"J-{c:04d}-{j:02d}"
        job = {"OID": jid, "ContractorID": cid, "Title": f"Job {j}", "Status": ["Open", "In Progress", "Completed"][j % 3],
               "ReportedDate": "2026-05-01T09:00:00Z"}
        note = {"OID": f"N-{jid}", "Text": f"Note on {jid}", "Author": "Agency", "CreatedAt": "2026-05-02T10:00:00Z"}
        if j % 5 == 0:
            job["MaintenanceNotes"] = [note]
        else:
            notes[jid] = [note]
        jobs.append(job)
    pending[cid] = {"Count": 5, "Data": [{"OID": f"PE-{c}-{k}", "Date": "2026-05-03", "Description": "Call-out", "Amount": "45.10",
                                          "JobID": f"J-{c:04d}-01", "Status": "Pending"} for k in range(5)]}
    statements[cid] = {"StatementID": f"ST-{c}", "TotalEarned": "1500.00", "Entries": []}
agency = {"contractors": contractors, "contacts": contacts, "jobs": jobs, "notes": notes, "statements": statements, "pending": pending,
          "jobEnvelopes": {cid: "count-data" for cid in contractors}}
with open(out, "w") as f:
    json.dump({"apiKey": "fixture-key", "agencies": {"demo": agency}}, f)
