"""Notes, captured war-room messages and the response-evaluation questionnaire."""
