"""NetSuite connector: SuiteTalk SOAP (zeep) and REST clients, bill stamping, read-back, local sandbox."""
